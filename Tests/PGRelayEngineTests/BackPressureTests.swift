#if os(Linux)
import Foundation
import Glibc
import NIOCore
import Synchronization
import XCTest

@testable import PGRelayEngine

/// Test data whose every byte depends on its offset, checked with memcmp against a copy of the
/// pattern: a prime period, so that no chunk size lines up with it.
struct BytePattern {
    static let period = 65_521
    /// The pattern twice, so that `period` bytes from any offset in the first copy are contiguous.
    static let doubled: [UInt8] = (0..<(2 * period)).map { UInt8(truncatingIfNeeded: ($0 % period) &* 31 &+ ($0 % period) >> 9) }

    /// Calls `body` with the `count` (at most `period`) pattern bytes that belong at `offset`.
    static func withBytes<T>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        precondition(count <= period)
        let start = offset % period
        return doubled.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)])) }
    }

    static func matches(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        var checked = 0
        while checked < bytes.count {
            let count = min(period, bytes.count - checked)
            let equal = withBytes(at: offset + checked, count: count) { expected in
                memcmp(expected.baseAddress!, bytes.baseAddress! + checked, count) == 0
            }
            guard equal else { return false }
            checked += count
        }
        return true
    }
}

final class BackPressureTests: ReactorTestCase {
    /// Writes pattern bytes to a connection while it is writable, up to a total, and goes on when
    /// it turns writable again. Lives on the connection's reactor.
    final class Producer: @unchecked Sendable {
        static let chunkSize = 4096
        let total: Int
        var connection: SocketConnection?
        var produced = 0
        var largestQueuedBytes = 0

        init(total: Int) {
            self.total = total
        }

        func produce() {
            guard let connection else { return }
            while connection.isWritable && produced < total {
                let count = min(Self.chunkSize, total - produced)
                let chunk = BytePattern.withBytes(at: produced, count: count) { ByteBuffer(bytes: $0) }
                connection.write(chunk)
                produced += count
                largestQueuedBytes = max(largestQueuedBytes, connection.queuedBytes)
            }
            connection.flush()
        }
    }

    /// Table of watermarks: a peer that does not read makes the writer unwritable once more than
    /// the high watermark is queued, the queue stays bounded while the peer does not read, and
    /// once it reads everything arrives in order, with writability reported once per change.
    func testAPeerThatStopsReadingMakesTheWriterUnwritable() throws {
        let watermarks: [(high: Int, low: Int)] = [(64 * 1024, 32 * 1024), (16 * 1024, 1024), (1024 * 1024, 512 * 1024)]
        for (high, low) in watermarks {
            let total = 8 * 1024 * 1024
            let producer = Producer(total: total)
            let delegate = RecordingDelegate()
            delegate.onWritabilityChanged = { isWritable, _ in
                if isWritable { producer.produce() }
            }
            let (connection, testSide) = try EngineTest.connectionPair(
                on: reactor, options: SocketConnectionOptions(highWatermark: high, lowWatermark: low), delegate: delegate)
            defer { close(testSide) }
            try EngineTest.onReactor(reactor) {
                producer.connection = connection
                producer.produce()
            }
            // The peer reads nothing: the socket buffers fill, then the queue up to the mark.
            EngineTest.waitUntil(on: reactor) { !connection.isWritable }
            usleep(100_000)
            let (stillUnwritable, largest, produced) = try EngineTest.onReactor(reactor) {
                (!connection.isWritable, producer.largestQueuedBytes, producer.produced)
            }
            // (The kernel may take a little more meanwhile, but not down to the low mark.)
            XCTAssertTrue(stillUnwritable, "high \(high)")
            XCTAssertGreaterThan(largest, high, "high \(high): unwritable only past the high watermark")
            XCTAssertLessThanOrEqual(largest, high + Producer.chunkSize, "high \(high): the queue stays bounded")
            XCTAssertLessThan(produced, total, "high \(high): production stopped")

            // Now the peer reads: everything arrives, in order.
            var received = 0
            var chunk = [UInt8](repeating: 0, count: 65536)
            var intact = true
            while received < total {
                let got = chunk.withUnsafeMutableBytes { recv(testSide, $0.baseAddress, $0.count, 0) }
                guard got > 0 else { break }
                intact = intact && chunk.withUnsafeBytes { BytePattern.matches(UnsafeRawBufferPointer(rebasing: $0[0..<got]), at: received) }
                received += got
            }
            XCTAssertEqual(received, total, "high \(high)")
            XCTAssertTrue(intact, "high \(high): bytes out of order or corrupted")
            let (writabilityEvents, finalLargest) = try EngineTest.onReactor(reactor) {
                (delegate.events.compactMap { if case .writability(let value) = $0 { return value } else { return nil } },
                 producer.largestQueuedBytes)
            }
            XCTAssertLessThanOrEqual(finalLargest, high + Producer.chunkSize, "high \(high)")
            XCTAssertGreaterThanOrEqual(writabilityEvents.count, 2, "high \(high)")
            for (index, value) in writabilityEvents.enumerated() {
                XCTAssertEqual(value, index % 2 == 1, "high \(high): each change reported once, alternating")
            }
            try EngineTest.onReactor(reactor) { connection.close() }
        }
    }

    /// The whole path under load: a source writes 1 GiB as fast as it can into a relay of two
    /// engine connections (accepted client side, connected server side), and a sink reads slowly
    /// (small receive buffer, a pause at the start and short sleeps throughout). The relay pauses
    /// the client while the server side is unwritable: what it holds stays within the high
    /// watermark plus one receive buffer, and every byte arrives in order.
    func testRelayMovesOneGigabyteThroughASlowReaderWithBoundedMemory() throws {
        let total = 1 << 30
        let sinkSocket = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(sinkSocket) }
        var smallBuffer: Int32 = 64 * 1024  // inherited by the accepted socket: a small window
        _ = setsockopt(sinkSocket, SOL_SOCKET, SO_RCVBUF, &smallBuffer, socklen_t(MemoryLayout<Int32>.size))
        let sinkAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        XCTAssertEqual(sinkAddress.withSockAddr { bind(sinkSocket, $0, socklen_t($1)) }, 0)
        XCTAssertEqual(listen(sinkSocket, 1), 0)
        let sinkListeningAddress = try SocketCalls.localAddress(of: sinkSocket)

        struct SinkResult {
            var received = 0
            var intact = true
            var sawEndOfInput = false
        }
        let sinkResult = LockedValue(SinkResult())
        let sinkDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { sinkDone.signal() }
            let connection = accept(sinkSocket, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            EngineTest.setReceiveTimeout(connection, seconds: 30)
            usleep(200_000)  // reads nothing at first: the relay's queue must fill
            var result = SinkResult()
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            var reads = 0
            while true {
                let got = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if got < 0 && errno == EINTR { continue }
                if got == 0 { result.sawEndOfInput = true }
                guard got > 0 else { break }
                if result.intact {
                    result.intact = chunk.withUnsafeBytes { BytePattern.matches(UnsafeRawBufferPointer(rebasing: $0[0..<got]), at: result.received) }
                }
                result.received += got
                reads += 1
                if reads % 16 == 0 { usleep(500) }
            }
            sinkResult.withLock { $0 = result }
        }

        let relays = LockedValue<[ConnectionRelay]>([])
        let listener = try Listener(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group) { client in
            Connector.connect(to: sinkListeningAddress, on: client.reactor, timeout: .seconds(5)).whenComplete { result in
                switch result {
                case .success(let server):
                    let relay = ConnectionRelay(client, server)
                    relays.withLock { $0.append(relay) }
                    relay.start()
                case .failure:
                    client.close()
                }
            }
        }
        defer { _ = try? listener.close().wait() }

        let residentBefore = Self.residentBytes()
        let started = Date()
        let source = try EngineTest.blockingClient(to: listener.localAddress)
        defer { close(source) }
        var sent = 0
        while sent < total {
            let count = min(BytePattern.period, total - sent)
            let written = BytePattern.withBytes(at: sent, count: count) { send(source, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return XCTFail("source send failed: errno \(errno) after \(sent) bytes") }
            sent += written
        }
        shutdown(source, Int32(SHUT_WR))
        XCTAssertEqual(sinkDone.wait(timeout: .now() + 600), .success)
        let elapsed = Date().timeIntervalSince(started)
        let residentGrowth = Self.residentBytes() - residentBefore

        let result = sinkResult.withLock { $0 }
        XCTAssertEqual(result.received, total)
        XCTAssertTrue(result.intact, "bytes out of order or corrupted")
        XCTAssertTrue(result.sawEndOfInput, "the relay passes the source's end of input on as a close")
        let relay = try XCTUnwrap(relays.withLock { $0.first })
        let (largest, unwritable) = try EngineTest.onReactor(reactor) { (relay.largestQueuedBytes, relay.unwritableCount) }
        let bound = SocketConnectionOptions().highWatermark + reactor.receiveBuffers.bufferSize
        XCTAssertLessThanOrEqual(largest, bound, "queued output bounded by the high watermark plus one read")
        XCTAssertGreaterThan(unwritable, 0, "the slow reader made the relay apply back-pressure")
        if !Self.isAddressSanitized {  // ASan's quarantine keeps freed memory resident by design
            XCTAssertLessThan(residentGrowth, 64 << 20, "resident memory grew by \(residentGrowth) bytes")
        }
        print("relay of 1 GiB: \(String(format: "%.1f", elapsed)) s, largest queue \(largest) bytes, " +
              "unwritable \(unwritable) times, resident memory +\(residentGrowth / 1024) KiB")
    }

    /// Whether this process runs under AddressSanitizer (its runtime's entry point is linked in).
    static let isAddressSanitized = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil

    /// VmRSS of this process, from /proc/self/status.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ")[1]) else { return 0 }
        return kilobytes * 1024
    }
}
#endif
