import NIOCore
import PGWire
import XCTest

final class StartupPacketReaderTests: XCTestCase {
    /// StartupMessage for protocol 3.`minor` with user=alice, database=db, then any extra pairs.
    func startup(minor: UInt16 = 0, extra: [UInt8] = []) -> [UInt8] {
        let body = [0, 3] + [UInt8(minor >> 8), UInt8(minor & 0xFF)] + Wire.text("user\0alice\0database\0db\0") + extra + [0]
        return Wire.int32(Int32(body.count + 4)) + body
    }

    func read(_ bytes: [UInt8], limit: Int = 10_000) throws -> StartupPacket? {
        var input = Wire.buffer(bytes)
        return try StartupPacketReader.next(from: &input, maxLength: limit)
    }

    func testStartupMessageVersionsAndParameters() throws {
        let cases: [(String, UInt16, [UInt8], [(String, String)])] = [
            ("3.0", 0, [], []),
            ("3.0 with a GUC", 0, Wire.text("application_name\0psql\0"), [("application_name", "psql")]),
            ("3.2 as PostgreSQL 18 asks", 2, [], []),
            ("3.9999 as PostgreSQL 19 betas ask", 9999, [], []),
            ("_pq_ options are kept for NegotiateProtocolVersion", 0, Wire.text("_pq_.test_option\0on\0"), [("_pq_.test_option", "on")]),
            ("empty value", 0, Wire.text("options\0\0"), [("options", "")]),
        ]
        for (label, minor, extra, extraParameters) in cases {
            let bytes = startup(minor: minor, extra: extra)
            let expected = StartupMessage(protocolMajor: 3, protocolMinor: Int(minor),
                                          parameters: [("user", "alice"), ("database", "db")] + extraParameters)
            XCTAssertEqual(try read(bytes), .startup(expected), label)
            XCTAssertEqual(Wire.written { $0.writeStartupMessage(expected) }, bytes, "\(label): encoder")
        }
    }

    func testStartupMessageExactBytes() throws {
        // 32 bytes: length, 0x00030000, "user\0alice\0database\0db\0", terminator.
        let bytes: [UInt8] = [0, 0, 0, 32, 0, 3, 0, 0] + Wire.text("user\0alice\0database\0db\0") + [0]
        XCTAssertEqual(bytes, startup())
        let message = try XCTUnwrap(try read(bytes))
        guard case .startup(let startup) = message else { return XCTFail("\(message)") }
        XCTAssertEqual(startup.value(of: "user"), "alice")
        XCTAssertEqual(startup.value(of: "database"), "db")
        XCTAssertNil(startup.value(of: "options"))
    }

    func testRequestCodes() throws {
        XCTAssertEqual(try read([0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]), .sslRequest)
        XCTAssertEqual(try read([0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x30]), .gssEncRequest)
        XCTAssertEqual(try read([0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E, 0, 0, 0x30, 0x39, 0xDE, 0xAD, 0xBE, 0xEF]),
                       .cancel(CancelRequest(processID: 12345, secretKey: Int32(bitPattern: 0xDEAD_BEEF))))
        XCTAssertEqual(Wire.written { $0.writeSSLRequest() }, [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
        XCTAssertEqual(Wire.written { $0.writeCancelRequest(CancelRequest(processID: 12345, secretKey: Int32(bitPattern: 0xDEAD_BEEF))) },
                       [0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E, 0, 0, 0x30, 0x39, 0xDE, 0xAD, 0xBE, 0xEF])
    }

    func testProtocolTwoIsUnsupported() {
        let v2: [UInt8] = [0, 0, 0, 9, 0, 2, 0, 0, 0]
        XCTAssertThrowsError(try read(v2)) { error in
            XCTAssertEqual(error as? WireError, .unsupportedProtocol(major: 2, minor: 0))
            XCTAssertEqual((error as? WireError)?.sqlState, "0A000")
        }
        XCTAssertThrowsError(try read([0, 0, 0, 9, 0, 4, 0, 0, 0])) { error in
            XCTAssertEqual(error as? WireError, .unsupportedProtocol(major: 4, minor: 0))
        }
    }

    func testIncompletePacketsWait() throws {
        let bytes = startup()
        for prefix in 0..<bytes.count {
            var input = Wire.buffer(Array(bytes[..<prefix]))
            XCTAssertNil(try StartupPacketReader.next(from: &input, maxLength: 10_000), "prefix \(prefix)")
            XCTAssertEqual(input.readableBytes, prefix, "prefix \(prefix) must not be consumed")
        }
        // A following packet stays in the buffer.
        var input = Wire.buffer(bytes + [0, 0, 0])
        XCTAssertNotNil(try StartupPacketReader.next(from: &input, maxLength: 10_000))
        XCTAssertEqual(Wire.bytes(input), [0, 0, 0])
    }

    func testMalformedPackets() {
        let sslCode: [UInt8] = [0x04, 0xD2, 0x16, 0x2F]
        let cases: [(String, [UInt8])] = [
            ("length below 8", [0, 0, 0, 7, 0, 3, 0]),
            ("negative length", [0xFF, 0xFF, 0xFF, 0xFF]),
            ("zero length", [0, 0, 0, 0]),
            ("SSLRequest with a body", [0, 0, 0, 12] + sslCode + [0, 0, 0, 0]),
            ("GSSENCRequest with a body", [0, 0, 0, 9, 0x04, 0xD2, 0x16, 0x30, 0]),
            ("CancelRequest too short", [0, 0, 0, 12, 0x04, 0xD2, 0x16, 0x2E, 0, 0, 0, 1]),
            ("CancelRequest too long", [0, 0, 0, 20, 0x04, 0xD2, 0x16, 0x2E] + [UInt8](repeating: 1, count: 12)),
            ("parameters without terminator", [0, 0, 0, 19, 0, 3, 0, 0] + Wire.text("user\0alice\0")),
            ("parameter name without value", [0, 0, 0, 13, 0, 3, 0, 0] + Wire.text("user\0")),
            ("unterminated name", [0, 0, 0, 12, 0, 3, 0, 0] + Wire.text("user")),
            ("unterminated value", [0, 0, 0, 18, 0, 3, 0, 0] + Wire.text("user\0alice")),
            ("bytes after the terminator", [0, 0, 0, 24, 0, 3, 0, 0] + Wire.text("user\0alice\0\0junk")),
        ]
        for (label, bytes) in cases {
            assertProtocolViolation(try read(bytes), label)
        }
    }

    func testOversizedPacketIsRejectedFromItsLengthAlone() {
        var input = Wire.buffer(Wire.int32(10_001))
        XCTAssertThrowsError(try StartupPacketReader.next(from: &input, maxLength: 10_000)) { error in
            XCTAssertEqual(error as? WireError, .messageTooLarge(type: nil, length: 10_001, limit: 10_000))
            XCTAssertEqual((error as? WireError)?.sqlState, "08P01")
        }
        XCTAssertNil(try read(Wire.int32(10_000), limit: 10_000), "at the limit: waits for the body")
    }
}
