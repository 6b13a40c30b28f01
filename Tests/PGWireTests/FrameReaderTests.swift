import NIOCore
import PGWire
import XCTest

final class FrameReaderTests: XCTestCase {
    // Query "SELECT 1" followed by Sync, as libpq sends them.
    let query: [UInt8] = [0x51, 0, 0, 0, 13] + Wire.text("SELECT 1\0")
    let sync: [UInt8] = [0x53, 0, 0, 0, 4]

    func testCompleteMessagesAreReadOneByOneAndLeaveTheRest() throws {
        var input = Wire.buffer(query + sync + [0x51, 0, 0])
        let first = try XCTUnwrap(try FrameReader.next(from: &input, maxLength: 1024))
        XCTAssertEqual(first.type, UInt8(ascii: "Q"))
        XCTAssertEqual(Wire.bytes(first.bytes), query)
        XCTAssertEqual(Wire.bytes(first.body), Wire.text("SELECT 1\0"))
        let second = try XCTUnwrap(try FrameReader.next(from: &input, maxLength: 1024))
        XCTAssertEqual(Wire.bytes(second.bytes), sync)
        XCTAssertEqual(second.body.readableBytes, 0, "Sync has a zero-length body")
        XCTAssertNil(try FrameReader.next(from: &input, maxLength: 1024))
        XCTAssertEqual(Wire.bytes(input), [0x51, 0, 0], "an incomplete header stays in the buffer")
    }

    func testSplitAtEveryBytePositionYieldsTheSameMessages() throws {
        let terminate: [UInt8] = [0x58, 0, 0, 0, 4]
        let stream = query + sync + terminate
        for split in 0...stream.count {
            var input = Wire.buffer(Array(stream[..<split]))
            var frames: [[UInt8]] = []
            while let frame = try FrameReader.next(from: &input, maxLength: 1024) { frames.append(Wire.bytes(frame.bytes)) }
            input.writeBytes(stream[split...])
            while let frame = try FrameReader.next(from: &input, maxLength: 1024) { frames.append(Wire.bytes(frame.bytes)) }
            XCTAssertEqual(frames, [query, sync, terminate], "split at \(split)")
            XCTAssertEqual(input.readableBytes, 0, "split at \(split)")
        }
    }

    func testIncompleteMessagesWaitWithoutConsuming() throws {
        for prefix in 0..<query.count {
            var input = Wire.buffer(Array(query[..<prefix]))
            XCTAssertNil(try FrameReader.next(from: &input, maxLength: 1024), "prefix \(prefix)")
            XCTAssertEqual(input.readableBytes, prefix, "prefix \(prefix) must not be consumed")
        }
    }

    func testLengthBelowFourIsRejected() {
        for length: Int32 in [-1, 0, 1, 3, Int32.min] {
            var input = Wire.buffer([0x51] + Wire.int32(length))
            assertProtocolViolation(try FrameReader.next(from: &input, maxLength: 1024), "length \(length)")
            XCTAssertThrowsError(try FrameReader.next(from: &input, maxLength: 1024)) { error in
                XCTAssertEqual(error as? WireError, .invalidLength(type: 0x51, length: Int(length)))
            }
        }
    }

    func testLengthOverTheLimitIsRejectedFromTheHeaderAlone() {
        // Only the 5-byte header has arrived: the announced 1 GiB body must not be waited for.
        var input = Wire.buffer([0x44] + Wire.int32(1 << 30))
        XCTAssertThrowsError(try FrameReader.next(from: &input, maxLength: 8192)) { error in
            XCTAssertEqual(error as? WireError, .messageTooLarge(type: 0x44, length: 1 << 30, limit: 8192))
            XCTAssertEqual((error as? WireError)?.sqlState, "08P01")
        }
        var atLimit = Wire.buffer([0x44] + Wire.int32(8192))
        XCTAssertNil(try FrameReader.next(from: &atLimit, maxLength: 8192), "exactly at the limit is allowed")
        var overByOne = Wire.buffer([0x44] + Wire.int32(8193))
        assertProtocolViolation(try FrameReader.next(from: &overByOne, maxLength: 8192), "one over the limit")
    }

    func testZeroLengthBodyMessages() throws {
        let emptyBodied: [(String, UInt8)] = [
            ("Sync", FrontendType.sync), ("Flush", FrontendType.flush), ("Terminate", FrontendType.terminate),
            ("CopyDone", FrontendType.copyDone), ("ParseComplete", BackendType.parseComplete),
            ("BindComplete", BackendType.bindComplete), ("CloseComplete", BackendType.closeComplete),
            ("NoData", BackendType.noData), ("EmptyQueryResponse", BackendType.emptyQueryResponse),
        ]
        for (name, type) in emptyBodied {
            var input = Wire.buffer([type, 0, 0, 0, 4])
            let frame = try XCTUnwrap(try FrameReader.next(from: &input, maxLength: 4), name)
            XCTAssertEqual(frame.type, type, name)
            XCTAssertEqual(frame.bytes.readableBytes, 5, name)
            XCTAssertEqual(frame.body.readableBytes, 0, name)
        }
    }

    func testFrameLengthPeeksWithoutConsuming() throws {
        let input = Wire.buffer(sync + query)
        XCTAssertEqual(try FrameReader.frameLength(in: input, at: 0, maxLength: 64), 5)
        XCTAssertEqual(try FrameReader.frameLength(in: input, at: 5, maxLength: 64), query.count)
        XCTAssertNil(try FrameReader.frameLength(in: input, at: sync.count + query.count - 2, maxLength: 64), "header cut at the end of the buffer")
        XCTAssertEqual(input.readableBytes, sync.count + query.count)
    }

    func testDefaultLimitsAndErrorTexts() {
        let limits = ProtocolLimits()
        XCTAssertEqual(limits.maxMessageLength, 1 << 30)
        XCTAssertEqual(limits.maxStartupPacketLength, 10_000)
        let cases: [(WireError, String, String)] = [
            (.messageTooLarge(type: 0x44, length: 9000, limit: 8192), "08P01", "message 'D' too large: 9000 bytes exceeds limit of 8192"),
            (.invalidLength(type: 0x01, length: 2), "08P01", "invalid message length 2 for message 0x1"),
            (.malformed(type: nil, reason: "bad"), "08P01", "malformed message startup packet: bad"),
            (.unsupportedProtocol(major: 2, minor: 0), "0A000", "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"),
        ]
        for (error, sqlState, text) in cases {
            XCTAssertEqual(error.sqlState, sqlState)
            XCTAssertEqual(error.description, text)
        }
    }
}
