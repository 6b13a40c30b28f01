import NIOCore
import PGWire
import XCTest

/// Byte-level helpers for writing protocol fixtures by hand: every expected message in these tests
/// is spelled out as type byte, big-endian length and body, as PostgreSQL puts it on the wire.
enum Wire {
    /// The bytes of an ASCII/UTF-8 string, without a terminator (write `\0` explicitly).
    static func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    static func int32(_ value: Int32) -> [UInt8] {
        let bits = UInt32(bitPattern: value)
        return [UInt8(bits >> 24), UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 8), UInt8(truncatingIfNeeded: bits)]
    }

    static func int16(_ value: Int16) -> [UInt8] {
        let bits = UInt16(bitPattern: value)
        return [UInt8(bits >> 8), UInt8(truncatingIfNeeded: bits)]
    }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    static func bytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

    /// A whole frame read back from fixture bytes (which must hold exactly one message).
    static func frame(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> Frame {
        var input = buffer(bytes)
        let frame = try XCTUnwrap(try FrameReader.next(from: &input, maxLength: 1 << 30), file: file, line: line)
        XCTAssertEqual(input.readableBytes, 0, "fixture holds more than one message", file: file, line: line)
        return frame
    }

    /// What a writer call puts into a fresh buffer.
    static func written(_ write: (inout ByteBuffer) -> Void) -> [UInt8] {
        var out = ByteBuffer()
        write(&out)
        return bytes(out)
    }
}

/// Asserts that `body` throws a `WireError` carrying SQLSTATE 08P01.
func assertProtocolViolation<T>(_ body: @autoclosure () throws -> T, _ label: String,
                                file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), label, file: file, line: line) { error in
        guard let wire = error as? WireError else {
            return XCTFail("\(label): \(error) is not a WireError", file: file, line: line)
        }
        XCTAssertEqual(wire.sqlState, "08P01", "\(label): \(wire)", file: file, line: line)
    }
}

extension Wire {
    /// A regular message: type byte, length word (counting itself and the body), body.
    static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        [type.asciiValue ?? 0] + int32(Int32(body.count + 4)) + body
    }
}
