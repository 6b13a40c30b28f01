#if os(Linux)
import Glibc
import NIOCore
import XCTest

@testable import PGRelayEngine

/// The write queue alone, over a socket pair whose send buffer is small, so that sends are
/// partial and end in EAGAIN at buffer boundaries and in the middle of buffers.
final class WriteQueueTests: XCTestCase {
    func testPartialSendsKeepOrderAndAccounting() throws {
        // Table: the sizes of the buffers queued, flushed in one go.
        let cases: [[Int]] = [
            [1],
            [5, 0, 7],
            [100_000],
            [3, 70_000, 11, 50_000, 1],
            Array(repeating: 1, count: 2500),  // more than one sendmsg takes (1024 iovecs)
            (1...300).map { $0 * 37 },
        ]
        let ioVectors = UnsafeMutablePointer<iovec>.allocate(capacity: Reactor.maximumIOVectors)
        defer { ioVectors.deallocate() }
        for sizes in cases {
            let (engineSide, testSide) = try EngineTest.socketPair()
            defer {
                close(engineSide)
                close(testSide)
            }
            var small: Int32 = 4096
            _ = setsockopt(engineSide, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var queue = WriteQueue()
            var expected: [UInt8] = []
            for size in sizes {
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: expected.count + $0) }
                queue.append(ByteBuffer(bytes: bytes))
                expected += bytes
            }
            XCTAssertEqual(queue.queuedBytes, expected.count, "\(sizes.prefix(5))")
            XCTAssertFalse(queue.hasFlushedBytes, "nothing is due before the flush")
            queue.markFlushed()
            XCTAssertEqual(queue.hasFlushedBytes, !expected.isEmpty)

            var received: [UInt8] = []
            var sent = 0
            var chunk = [UInt8](repeating: 0, count: 65536)
            while queue.hasFlushedBytes {
                switch queue.send(to: engineSide, ioVectors: ioVectors) {
                case .transferred(let count):
                    queue.didSend(count)
                    sent += count
                    XCTAssertEqual(queue.queuedBytes, expected.count - sent)
                case .wouldBlock:
                    // The peer reads some, as a slow client would.
                    let got = chunk.withUnsafeMutableBytes { recv(testSide, $0.baseAddress, 3000, 0) }
                    XCTAssertGreaterThan(got, 0)
                    received += chunk[0..<max(got, 0)]
                case .failed(let code):
                    return XCTFail("send failed: errno \(code)")
                }
            }
            received += EngineTest.read(testSide, count: expected.count - received.count)
            XCTAssertEqual(received, expected, "\(sizes.prefix(5))")
            XCTAssertTrue(queue.isEmpty)
            XCTAssertEqual(queue.queuedBytes, 0)
        }
    }

    /// Writes after a flush are not due until the next flush.
    func testOnlyFlushedBuffersAreDue() throws {
        let (engineSide, testSide) = try EngineTest.socketPair()
        defer {
            close(engineSide)
            close(testSide)
        }
        let ioVectors = UnsafeMutablePointer<iovec>.allocate(capacity: Reactor.maximumIOVectors)
        defer { ioVectors.deallocate() }
        var queue = WriteQueue()
        queue.append(ByteBuffer(string: "due "))
        queue.markFlushed()
        queue.append(ByteBuffer(string: "later"))
        guard case .transferred(let count) = queue.send(to: engineSide, ioVectors: ioVectors) else {
            return XCTFail("send failed")
        }
        XCTAssertEqual(count, 4)
        queue.didSend(count)
        XCTAssertFalse(queue.hasFlushedBytes)
        XCTAssertEqual(queue.queuedBytes, 5)
        XCTAssertEqual(String(decoding: EngineTest.read(testSide, count: 4), as: UTF8.self), "due ")
    }
}
#endif
