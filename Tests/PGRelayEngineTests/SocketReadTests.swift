#if os(Linux)
import Glibc
import NIOCore
import XCTest

@testable import PGRelayEngine

/// `SocketCalls.read` on a non-blocking stream socket: where a run of reads stops, what it
/// leaves in the buffer, and what it says the socket's state is.
final class SocketReadTests: ReactorTestCase {
    private struct Case {
        let name: String
        let queued: Int
        let peerFinished: Bool
        let stopAtShortRead: Bool
        let expected: SocketCalls.ReadOutcome
        let expectedBytes: Int
    }

    func testWhereARunOfReadsStops() throws {
        let capacity = 1024
        let cases = [
            // A short read empties the receive queue: no second read to hear EAGAIN.
            Case(name: "short read, stop", queued: 100, peerFinished: false, stopAtShortRead: true,
                 expected: .wouldBlock, expectedBytes: 100),
            Case(name: "short read, go on to EAGAIN", queued: 100, peerFinished: false, stopAtShortRead: false,
                 expected: .wouldBlock, expectedBytes: 100),
            // The FIN behind the bytes is read when the run goes on (the caller asks for that
            // once epoll reported RDHUP).
            Case(name: "bytes then FIN, go on", queued: 100, peerFinished: true, stopAtShortRead: false,
                 expected: .endOfInput, expectedBytes: 100),
            Case(name: "bytes then FIN, stop", queued: 100, peerFinished: true, stopAtShortRead: true,
                 expected: .wouldBlock, expectedBytes: 100),
            Case(name: "FIN alone", queued: 0, peerFinished: true, stopAtShortRead: true,
                 expected: .endOfInput, expectedBytes: 0),
            Case(name: "nothing queued", queued: 0, peerFinished: false, stopAtShortRead: true,
                 expected: .wouldBlock, expectedBytes: 0),
            // More than fits: the buffer fills, whatever the mode.
            Case(name: "more than the buffer", queued: 3000, peerFinished: false, stopAtShortRead: true,
                 expected: .bufferFull, expectedBytes: capacity),
        ]
        for test in cases {
            let (engineSide, testSide) = try EngineTest.socketPair()
            defer {
                close(engineSide)
                close(testSide)
            }
            if test.queued > 0 { EngineTest.writeAll(testSide, [UInt8](repeating: 1, count: test.queued)) }
            if test.peerFinished { shutdown(testSide, Int32(SHUT_WR)) }
            var buffer = ByteBufferAllocator().buffer(capacity: capacity)
            let outcome = SocketCalls.read(engineSide, into: &buffer, stopAtShortRead: test.stopAtShortRead)
            XCTAssertEqual(outcome, test.expected, test.name)
            XCTAssertEqual(buffer.readableBytes, min(test.expectedBytes, buffer.capacity), test.name)
        }
    }

    /// Bytes that arrive after a short read emptied the socket make a new edge: a peer that
    /// writes in many small bursts, each after the last was read, has every byte delivered.
    func testBurstsAfterShortReadsAreAllDelivered() throws {
        let delegate = RecordingDelegate()
        let (_, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        defer { close(testSide) }
        var sent: [UInt8] = []
        for burst in 0 ..< 50 {
            let bytes = [UInt8](repeating: UInt8(burst), count: 1 + burst % 7)
            EngineTest.writeAll(testSide, bytes)
            sent += bytes
            let expected = sent.count
            EngineTest.waitUntil(on: reactor) { delegate.receivedBytes.count == expected }
        }
        XCTAssertEqual(try EngineTest.onReactor(reactor) { delegate.receivedBytes }, sent)
    }
}
#endif
