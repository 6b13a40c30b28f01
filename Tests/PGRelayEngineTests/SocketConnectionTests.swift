#if os(Linux)
import Foundation
import Glibc
import NIOCore
import XCTest

@testable import PGRelayEngine

/// One connection over a socket pair, driven from the test's end of the pair.
final class SocketConnectionTests: ReactorTestCase {
    func testDeliversBytesThenReadComplete() throws {
        let delegate = RecordingDelegate()
        let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        defer { close(testSide) }
        EngineTest.writeAll(testSide, "hello")
        EngineTest.waitUntil(on: reactor) { delegate.events.count >= 2 }
        XCTAssertEqual(try EngineTest.onReactor(reactor) { delegate.events }, [.received("hello"), .readComplete])
        XCTAssertTrue(try EngineTest.onReactor(reactor) { connection.isOpen && connection.isWritable && connection.isReading })
    }

    func testWritesAreSentOnFlushOnly() throws {
        let delegate = RecordingDelegate()
        let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        defer { close(testSide) }
        try EngineTest.onReactor(reactor) {
            connection.write(ByteBuffer(string: "one "))
            connection.write(ByteBuffer())  // empty: ignored
            connection.write(ByteBuffer(string: "two"))
            return ()
        }
        // Nothing arrives before the flush.
        var pending = pollfd(fd: testSide, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&pending, 1, 100), 0)
        XCTAssertEqual(try EngineTest.onReactor(reactor) { connection.queuedBytes }, 7)
        try EngineTest.onReactor(reactor) { connection.flush() }
        XCTAssertEqual(String(decoding: EngineTest.read(testSide, count: 7), as: UTF8.self), "one two")
        XCTAssertEqual(try EngineTest.onReactor(reactor) { connection.queuedBytes }, 0)
    }

    /// Table: how the connection ends, and the one `closed` the delegate must hear.
    func testClosedIsReportedExactlyOnce() throws {
        struct Case {
            let name: String
            /// Ends the connection; true when it closed the test's end of the pair itself.
            let end: (SocketConnection, Int32, Reactor) throws -> Bool
            let expected: SocketConnection.CloseReason
        }
        let cases: [Case] = [
            Case(name: "peer closes", end: { _, testSide, _ in
                close(testSide)
                return true
            }, expected: .endOfInput),
            Case(name: "peer shuts its output down", end: { _, testSide, _ in
                shutdown(testSide, Int32(SHUT_WR))
                return false
            }, expected: .endOfInput),
            Case(name: "local close, three times", end: { connection, _, reactor in
                try EngineTest.onReactor(reactor) {
                    connection.close()
                    connection.close()
                    connection.close(.afterQueuedWrites)
                }
                return false
            }, expected: .closedLocally),
            Case(name: "close from another thread through execute", end: { connection, _, reactor in
                DispatchQueue.global().async { reactor.execute { connection.close() } }
                return false
            }, expected: .closedLocally),
        ]
        for testCase in cases {
            let descriptorsBefore = EngineTest.openDescriptorCount()
            let delegate = RecordingDelegate()
            let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
            let closedTestSide = try testCase.end(connection, testSide, reactor)
            EngineTest.waitUntil(on: reactor) { !delegate.closeEvents.isEmpty }
            // Events that come late must not produce a second `closed`.
            try EngineTest.onReactor(reactor) {
                connection.close()
                connection.write(ByteBuffer(string: "ignored"))
                connection.flush()
                connection.setReading(true)
                connection.halfClose()
            }
            usleep(20_000)
            let closes = try EngineTest.onReactor(reactor) { delegate.closeEvents }
            XCTAssertEqual(closes.count, 1, testCase.name)
            XCTAssertEqual(closes.first, .closed(testCase.expected), testCase.name)
            XCTAssertFalse(try EngineTest.onReactor(reactor) { connection.isOpen }, testCase.name)
            if !closedTestSide {
                close(testSide)
            }
            XCTAssertEqual(EngineTest.openDescriptorCount(), descriptorsBefore, "\(testCase.name): descriptors leaked")
        }
    }

    /// The bytes sent before the peer's FIN are delivered (with their readComplete) before
    /// `closed(.endOfInput)`.
    func testBytesBeforeEndOfInputAreDeliveredFirst() throws {
        let delegate = RecordingDelegate()
        let (_, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        EngineTest.writeAll(testSide, "last words")
        close(testSide)
        EngineTest.waitUntil(on: reactor) { !delegate.closeEvents.isEmpty }
        let events = try EngineTest.onReactor(reactor) { delegate.events }
        XCTAssertEqual(events.last, .closed(.endOfInput))
        XCTAssertEqual(try EngineTest.onReactor(reactor) { String(decoding: delegate.receivedBytes, as: UTF8.self) }, "last words")
        XCTAssertEqual(events.filter { $0 == .readComplete }.count >= 1, true)
    }

    /// Writing to a peer that has gone fails with EPIPE (not SIGPIPE, which would end the test
    /// process) or ECONNRESET.
    func testWritingToAClosedPeerFailsWithoutSignal() throws {
        let delegate = RecordingDelegate()
        let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        try EngineTest.onReactor(reactor) { connection.setReading(false) }  // so the FIN is not read first
        close(testSide)
        try EngineTest.onReactor(reactor) {
            connection.write(ByteBuffer(string: "into the void"))
            connection.flush()
        }
        EngineTest.waitUntil(on: reactor) { !delegate.closeEvents.isEmpty }
        let closes = try EngineTest.onReactor(reactor) { delegate.closeEvents }
        guard case .closed(.failed(let error)) = closes.first else {
            return XCTFail("expected a failure, got \(closes)")
        }
        XCTAssertTrue([EPIPE, ECONNRESET].contains(error.code), "\(error)")
    }

    /// Paused, a connection reads nothing; resumed, it reads what arrived meanwhile at once,
    /// although no new edge comes (edge-triggered epoll reported it while paused).
    func testPausedReadingResumesWithoutANewEdge() throws {
        let delegate = RecordingDelegate()
        let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        defer { close(testSide) }
        try EngineTest.onReactor(reactor) { connection.setReading(false) }
        EngineTest.writeAll(testSide, "while paused")
        usleep(50_000)
        XCTAssertEqual(try EngineTest.onReactor(reactor) { delegate.events }, [])
        XCTAssertFalse(try EngineTest.onReactor(reactor) { connection.isReading })
        try EngineTest.onReactor(reactor) { connection.setReading(true) }
        EngineTest.waitUntil(on: reactor) { delegate.events.count >= 2 }
        XCTAssertEqual(try EngineTest.onReactor(reactor) { delegate.events }, [.received("while paused"), .readComplete])
    }

    /// A delegate that pauses in `bytesReceived` gets no more bytes in that burst; resuming
    /// delivers the rest.
    func testPauseInsideACallbackStopsTheReadLoop() throws {
        let delegate = RecordingDelegate()
        let options = SocketConnectionOptions()
        let receiveBufferSize = reactor.receiveBuffers.bufferSize
        delegate.onReceived = { _, connection in connection.setReading(false) }
        let (connection, testSide) = try EngineTest.connectionPair(on: reactor, options: options, delegate: delegate)
        defer { close(testSide) }
        let payload = [UInt8](repeating: 7, count: receiveBufferSize * 3)
        EngineTest.writeAll(testSide, payload)
        EngineTest.waitUntil(on: reactor) { !delegate.receivedBytes.isEmpty }
        usleep(20_000)
        XCTAssertEqual(try EngineTest.onReactor(reactor) { delegate.receivedBytes.count }, receiveBufferSize)
        try EngineTest.onReactor(reactor) {
            delegate.onReceived = nil
            connection.setReading(true)
        }
        EngineTest.waitUntil(on: reactor) { delegate.receivedBytes.count == payload.count }
    }

    /// Table: a consumer that lets go of each buffer gets the same storage every read (no
    /// allocation per read); one that keeps them gets new storage each time.
    func testReceiveBufferStorageIsReusedOnceReleased() throws {
        for keepsBuffers in [false, true] {
            let delegate = RecordingDelegate()
            delegate.keepsBuffers = keepsBuffers
            let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
            for index in 0..<50 {
                EngineTest.writeAll(testSide, "message \(index)")
                EngineTest.waitUntil(on: reactor) { delegate.receivedStorageAddresses.count == index + 1 }
            }
            let distinct = try EngineTest.onReactor(reactor) { Set(delegate.receivedStorageAddresses).count }
            if keepsBuffers {
                XCTAssertEqual(distinct, 50, "every kept buffer needs its own storage")
            } else {
                XCTAssertEqual(distinct, 1, "a released buffer's storage is read into again")
            }
            try EngineTest.onReactor(reactor) {
                connection.close()
                delegate.keptBuffers.removeAll()
            }
            close(testSide)
        }
    }

    /// halfClose: the queued bytes go out, then the peer reads its end of input; the connection
    /// still reads what the peer sends afterwards, and closes when the peer closes.
    func testHalfCloseSendsQueuedBytesThenEndOfInputAndKeepsReading() throws {
        let delegate = RecordingDelegate()
        let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        defer { close(testSide) }
        try EngineTest.onReactor(reactor) {
            connection.write(ByteBuffer(string: "request"))
            connection.halfClose()  // flushes
            connection.write(ByteBuffer(string: "after half-close: ignored"))
            connection.flush()
        }
        let (received, sawEnd) = EngineTest.readToEnd(testSide)
        XCTAssertEqual(String(decoding: received, as: UTF8.self), "request")
        XCTAssertTrue(sawEnd)
        EngineTest.writeAll(testSide, "response")
        EngineTest.waitUntil(on: reactor) { delegate.receivedBytes.count == 8 }
        XCTAssertEqual(try EngineTest.onReactor(reactor) { connection.isOpen }, true)
        shutdown(testSide, Int32(SHUT_WR))
        EngineTest.waitUntil(on: reactor) { !delegate.closeEvents.isEmpty }
        XCTAssertEqual(try EngineTest.onReactor(reactor) { delegate.events },
                       [.received("response"), .readComplete, .closed(.endOfInput)])
    }

    /// close(.afterQueuedWrites) sends what is queued, then closes.
    func testCloseAfterQueuedWritesSendsThemFirst() throws {
        let delegate = RecordingDelegate()
        let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        defer { close(testSide) }
        let payload = [UInt8](repeating: 42, count: 1_000_000)  // more than the socket takes at once
        try EngineTest.onReactor(reactor) {
            connection.write(ByteBuffer(bytes: payload))
            connection.close(.afterQueuedWrites)
        }
        let (received, sawEnd) = EngineTest.readToEnd(testSide)
        XCTAssertEqual(received.count, payload.count)
        XCTAssertTrue(sawEnd)
        EngineTest.waitUntil(on: reactor) { !delegate.closeEvents.isEmpty }
        XCTAssertEqual(try EngineTest.onReactor(reactor) { delegate.closeEvents }, [.closed(.closedLocally)])
    }

    /// More buffers than one sendmsg takes (IOV_MAX), sent in order.
    func testManySmallWritesGoOutInOrder() throws {
        let delegate = RecordingDelegate()
        let (connection, testSide) = try EngineTest.connectionPair(
            on: reactor, options: SocketConnectionOptions(highWatermark: 1 << 30, lowWatermark: 0), delegate: delegate)
        defer { close(testSide) }
        let count = 3000
        try EngineTest.onReactor(reactor) {
            for index in 0..<count {
                connection.write(ByteBuffer(string: String(format: "%05d", index)))
            }
            connection.flush()
        }
        let received = EngineTest.read(testSide, count: count * 5)
        let expected = (0..<count).map { String(format: "%05d", $0) }.joined()
        XCTAssertEqual(String(decoding: received, as: UTF8.self), expected)
    }

    func testAddressesOfAUnixSocketPair() throws {
        let delegate = RecordingDelegate()
        let (connection, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        defer { close(testSide) }
        let (local, remote) = try EngineTest.onReactor(reactor) { (connection.localAddress, connection.remoteAddress) }
        XCTAssertEqual(local?.protocol, .unix)
        XCTAssertEqual(remote?.protocol, .unix)
        try EngineTest.onReactor(reactor) { connection.close() }
        XCTAssertEqual(try EngineTest.onReactor(reactor) { connection.localAddress?.protocol }, .unix, "kept after close")
    }
}
#endif
