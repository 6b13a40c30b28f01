#if os(Linux)
import Glibc
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest
@testable import PGRelayEngine
@testable import PGRelayServer

/// The transport seam: what a session or server connection hears from an engine socket, and
/// writes that come from another loop.
final class RelayTransportTests: XCTestCase {
    /// Records what a transport reports, and on which thread.
    final class RecordingOwner: TransportOwner, @unchecked Sendable {
        let loop: EventLoop
        private let events = NIOLockedValueBox<[String]>([])
        private let received = NIOLockedValueBox(ByteBuffer())
        let closedPromise: EventLoopPromise<Void>
        let offLoopEvents = NIOLockedValueBox(0)

        init(loop: EventLoop) {
            self.loop = loop
            closedPromise = loop.makePromise()
        }

        var log: [String] { events.withLockedValue { $0 } }
        var bytes: String { received.withLockedValue { String(buffer: $0) } }

        private func note(_ event: String) {
            if !loop.inEventLoop { offLoopEvents.withLockedValue { $0 += 1 } }
            events.withLockedValue { $0.append(event) }
        }

        func transportReceived(_ bytes: ByteBuffer) {
            var copy = bytes
            received.withLockedValue { _ = $0.writeBuffer(&copy) }
            note("read")
        }
        func transportReadComplete() { note("readComplete") }
        func transportWritabilityChanged(_ writable: Bool) { note("writable \(writable)") }
        func transportClosed() {
            note("closed")
            closedPromise.succeed(())
        }
        func transportTLSEstablished(_ description: String, peerCertificate: [UInt8]?) { note("tls") }
        func transportTLSFailed(_ error: Error) { note("tls failed") }
    }

    private var group: ReactorGroup!
    private var reactor: Reactor!
    /// Another loop, as a client on another reactor or a TLS channel's NIO loop would be.
    private var other: MultiThreadedEventLoopGroup!

    override func setUp() {
        group = try! ReactorGroup(workers: 1)
        reactor = group.reactors[0]
        other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    override func tearDown() {
        try? group.syncShutdownGracefully()
        try? other.syncShutdownGracefully()
    }

    /// An engine listener whose first accepted connection becomes a `SocketTransport` owned by a
    /// `RecordingOwner` on reactor 0, and a plain blocking client socket connected to it.
    private func connectedPair() throws -> (SocketTransport, RecordingOwner, Int32, Listener) {
        let made = reactor.makePromise(of: (SocketTransport, RecordingOwner).self)
        let reactor = self.reactor!
        let listener = try Listener(address: SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group) { connection in
            let transport = SocketTransport(connection)
            let owner = RecordingOwner(loop: reactor)
            transport.start(owner: owner)
            made.succeed((transport, owner))
        }
        let client = try blockingConnect(port: listener.localAddress.port!)
        let (transport, owner) = try made.futureResult.wait()
        return (transport, owner, client, listener)
    }

    private func blockingConnect(port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(result, 0)
        return descriptor
    }

    private func readAll(_ descriptor: Int32, until expected: Int) -> String {
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while collected.count < expected {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count <= 0 { break }
            collected += chunk[0..<count]
        }
        return String(decoding: collected, as: UTF8.self)
    }

    func testBytesReadCompleteAndCloseReachTheOwnerOnItsLoop() throws {
        let (_, owner, client, listener) = try connectedPair()
        defer { try? listener.close().wait() }
        XCTAssertEqual(send(client, "hello", 5, 0), 5)
        close(client)
        try owner.closedPromise.futureResult.wait()
        XCTAssertEqual(owner.bytes, "hello")
        XCTAssertEqual(owner.log.filter { $0 == "closed" }.count, 1, "\(owner.log)")
        XCTAssertTrue(owner.log.contains("readComplete"))
        XCTAssertEqual(owner.offLoopEvents.withLockedValue { $0 }, 0)
    }

    func testWritesFromAnotherLoopArriveInOrder() throws {
        let (transport, owner, client, listener) = try connectedPair()
        defer { try? listener.close().wait() }
        defer { close(client) }
        try other.next().submit {
            for index in 0..<100 { transport.write(ByteBuffer(string: "\(index % 10)"), onOwnLoop: false) }
            transport.flush(onOwnLoop: false)
        }.wait()
        let expected = (0..<100).map { "\($0 % 10)" }.joined()
        XCTAssertEqual(readAll(client, until: 100), expected)
        try reactor.submit { transport.close() }.wait()
        try owner.closedPromise.futureResult.wait()
    }

    func testCloseAfterErrorSendsTheMessageThenEndOfFileAndKeepsReading() throws {
        let (transport, owner, client, listener) = try connectedPair()
        defer { try? listener.close().wait() }
        defer { close(client) }
        try reactor.submit {
            transport.writeAndFlush(ByteBuffer(string: "FATAL"))
            transport.closeAfterError(linger: .seconds(5))
        }.wait()
        // The client reads the message and then the end of file (a half-close, not a reset)...
        XCTAssertEqual(readAll(client, until: 100), "FATAL")
        // ...and may still send: the proxy reads and the owner sees it, until the client closes.
        XCTAssertEqual(send(client, "late", 4, 0), 4)
        shutdown(client, Int32(SHUT_WR))
        try owner.closedPromise.futureResult.wait()
        XCTAssertEqual(owner.bytes, "late")
    }

    func testDetachHandsOverAnOpenDescriptorAndTheOwnerHearsNoClose() throws {
        let (transport, owner, client, listener) = try connectedPair()
        defer { try? listener.close().wait() }
        defer { close(client) }
        let descriptor = try reactor.submit { transport.detach() }.wait()
        let detached = try XCTUnwrap(descriptor)
        defer { close(detached) }
        XCTAssertEqual(send(detached, "still open", 10, 0), 10)
        XCTAssertEqual(readAll(client, until: 10), "still open")
        // Bytes the client sends now are not the engine's any more.
        XCTAssertEqual(send(client, "x", 1, 0), 1)
        usleep(100_000)
        XCTAssertEqual(owner.log, [], "the engine reported nothing after the hand-over")
        var byte: UInt8 = 0
        XCTAssertEqual(recv(detached, &byte, 1, 0), 1)
        XCTAssertEqual(byte, UInt8(ascii: "x"))
        owner.closedPromise.succeed(())  // nobody else will: the transport let go of it
    }

    func testDetachRefusesWhileBytesAreQueued() throws {
        let (transport, owner, client, listener) = try connectedPair()
        defer { try? listener.close().wait() }
        defer { close(client) }
        // Fill the client's receive window so that output stays queued.
        let refused = try reactor.submit { () -> Bool in
            transport.write(ByteBuffer(repeating: 0x41, count: 8 * 1024 * 1024))
            transport.flush()
            return transport.detach() == nil
        }.wait()
        XCTAssertTrue(refused)
        try reactor.submit { transport.close() }.wait()
        try owner.closedPromise.futureResult.wait()
    }
}
#endif
