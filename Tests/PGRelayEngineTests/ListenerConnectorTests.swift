#if os(Linux)
import Foundation
import Glibc
import NIOCore
import Synchronization
import XCTest

@testable import PGRelayEngine

/// Listeners and connects on real sockets: TCP over IPv4 and IPv6 loopback (ports chosen by
/// binding to port 0) and Unix sockets.
final class ListenerConnectorTests: ReactorTestCase {
    override var workers: Int { 2 }

    /// The accepted connections, each started with its own recording delegate.
    final class Accepted: @unchecked Sendable {
        let connections = LockedValue<[(SocketConnection, RecordingDelegate)]>([])

        func accept(_ connection: SocketConnection) {
            let delegate = RecordingDelegate()
            connection.start(delegate: delegate)
            connections.withLock { $0.append((connection, delegate)) }
        }

        var count: Int { connections.withLock { $0.count } }
        subscript(index: Int) -> (SocketConnection, RecordingDelegate) { connections.withLock { $0[index] } }
    }

    private struct Endpoint {
        let name: String
        let address: () throws -> SocketAddress
    }

    private let endpoints: [Endpoint] = [
        Endpoint(name: "IPv4", address: { try SocketAddress(ipAddress: "127.0.0.1", port: 0) }),
        Endpoint(name: "IPv6", address: { try SocketAddress(ipAddress: "::1", port: 0) }),
        Endpoint(name: "Unix", address: { try SocketAddress(unixDomainSocketPath: EngineTest.temporarySocketPath()) }),
    ]

    private func isNagleDisabled(_ connection: SocketConnection) throws -> Bool {
        try EngineTest.onReactor(connection.reactor) {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(connection.descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0 else { return false }
            return value != 0
        }
    }

    /// Table over the families: a connect from the engine reaches a listener of the engine, both
    /// sides exchange bytes, TCP sockets have Nagle off, and closing everything leaks nothing.
    func testConnectToListenerOnEveryFamily() throws {
        for endpoint in endpoints {
            let descriptorsBefore = EngineTest.openDescriptorCount()
            let accepted = Accepted()
            let listener = try Listener(address: try endpoint.address(), group: group, onAccept: { accepted.accept($0) })
            let connecting = group.reactors[1]
            let connection = try Connector.connect(to: listener.localAddress, on: connecting, timeout: .seconds(5)).wait()
            let delegate = RecordingDelegate()
            try EngineTest.onReactor(connecting) {
                connection.start(delegate: delegate)
                connection.write(ByteBuffer(string: "ping"))
                connection.flush()
            }
            let deadline = Date().addingTimeInterval(10)
            while accepted.count == 0 && Date() < deadline { usleep(1000) }
            let (server, serverDelegate) = accepted[0]
            EngineTest.waitUntil(on: server.reactor) { serverDelegate.receivedBytes.count == 4 }
            try EngineTest.onReactor(server.reactor) {
                server.write(ByteBuffer(string: "pong"))
                server.flush()
            }
            EngineTest.waitUntil(on: connecting) { delegate.receivedBytes.count == 4 }
            XCTAssertEqual(try EngineTest.onReactor(connecting) { String(decoding: delegate.receivedBytes, as: UTF8.self) }, "pong", endpoint.name)

            let family = listener.localAddress.protocol
            XCTAssertEqual(try EngineTest.onReactor(connecting) { connection.remoteAddress?.protocol }, family, endpoint.name)
            XCTAssertEqual(try EngineTest.onReactor(server.reactor) { server.localAddress?.protocol }, family, endpoint.name)
            if family != .unix {
                XCTAssertEqual(try EngineTest.onReactor(connecting) { connection.remoteAddress?.port }, listener.localAddress.port)
                XCTAssertTrue(try isNagleDisabled(connection), "\(endpoint.name): connected socket")
                XCTAssertTrue(try isNagleDisabled(server), "\(endpoint.name): accepted socket")
            }

            try EngineTest.onReactor(connecting) { connection.close() }
            EngineTest.waitUntil(on: server.reactor) { serverDelegate.closeEvents == [.closed(.endOfInput)] }
            try listener.close().wait()
            if let path = listener.localAddress.pathname {
                XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the listener removes its socket file")
            }
            XCTAssertEqual(EngineTest.openDescriptorCount(), descriptorsBefore, "\(endpoint.name): descriptors leaked")
        }
    }

    /// Accepted connections are spread over the group's reactors in turn; a burst of clients is
    /// accepted whole (edge-triggered: accept until EAGAIN).
    func testAcceptedConnectionsAreSpreadOverTheReactors() throws {
        let accepted = Accepted()
        let listener = try Listener(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group, onAccept: { accepted.accept($0) })
        defer { _ = try? listener.close().wait() }
        let clients = try (0..<20).map { _ in try EngineTest.blockingClient(to: listener.localAddress) }
        defer { clients.forEach { close($0) } }
        let deadline = Date().addingTimeInterval(10)
        while accepted.count < clients.count && Date() < deadline { usleep(1000) }
        XCTAssertEqual(accepted.count, clients.count)
        let perReactor = Dictionary(grouping: (0..<accepted.count).map { accepted[$0].0.reactor.name }, by: { $0 }).mapValues(\.count)
        XCTAssertEqual(perReactor.count, 2, "\(perReactor)")
        XCTAssertEqual(perReactor.values.min(), 10)
        for index in 0..<accepted.count {
            let (connection, _) = accepted[index]
            try EngineTest.onReactor(connection.reactor) { connection.close() }
        }
    }

    /// Table: connects that fail, and the error each must fail with.
    func testFailedConnects() throws {
        // A bound TCP port nobody listens on: the kernel answers the SYN with a reset.
        let bound = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(bound) }
        var any = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        _ = any.withSockAddr { bind(bound, $0, socklen_t($1)) }
        any = try SocketCalls.localAddress(of: bound)

        // A listener whose accept queue is full (backlog 0, one connection queued, nobody
        // accepts): Linux drops further SYNs, so a connect stays pending until its timeout. It
        // works offline, unlike a non-routable address.
        let full = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(full) }
        var loopback = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        _ = loopback.withSockAddr { bind(full, $0, socklen_t($1)) }
        XCTAssertEqual(listen(full, 0), 0)
        loopback = try SocketCalls.localAddress(of: full)
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<3 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = loopback.withSockAddr { connect(filler, $0, socklen_t($1)) }
            fillers.append(filler)
        }
        usleep(50_000)

        struct Case {
            let name: String
            let address: SocketAddress
            let timeout: TimeAmount
            let check: (Error) -> Bool
        }
        let cases: [Case] = [
            Case(name: "refused", address: any, timeout: .seconds(5),
                 check: { ($0 as? SystemCallError)?.code == ECONNREFUSED }),
            Case(name: "timeout (full backlog)", address: loopback, timeout: .milliseconds(300),
                 check: { ($0 as? ConnectTimeoutError)?.timeout == .milliseconds(300) }),
            Case(name: "missing Unix socket", address: try SocketAddress(unixDomainSocketPath: EngineTest.temporarySocketPath()),
                 timeout: .seconds(5), check: { ($0 as? SystemCallError)?.code == ENOENT }),
        ]
        for testCase in cases {
            let descriptorsBefore = EngineTest.openDescriptorCount()
            let started = Date()
            XCTAssertThrowsError(try Connector.connect(to: testCase.address, on: reactor, timeout: testCase.timeout).wait(), testCase.name) {
                XCTAssertTrue(testCase.check($0), "\(testCase.name): \($0)")
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 4, testCase.name)
            XCTAssertEqual(try EngineTest.onReactor(reactor) { self.reactor.registrationCount }, 0, "\(testCase.name): registration left")
            XCTAssertEqual(EngineTest.openDescriptorCount(), descriptorsBefore, "\(testCase.name): descriptors leaked")
        }
    }

    /// Table: a TCP peer resets the connection (close with SO_LINGER 0) while the engine reads,
    /// or while its reading is paused and nothing is queued (only EPOLLERR tells then): either
    /// way the connection closes with ECONNRESET.
    func testResetByPeerIsAFailure() throws {
        for (readingPaused, failedCall) in [(false, "read"), (true, "socket error")] {
            let accepted = Accepted()
            let listener = try Listener(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group,
                                        onAccept: { accepted.accept($0) })
            let client = try EngineTest.blockingClient(to: listener.localAddress)
            let deadline = Date().addingTimeInterval(10)
            while accepted.count == 0 && Date() < deadline { usleep(1000) }
            let (connection, delegate) = accepted[0]
            if readingPaused {
                try EngineTest.onReactor(connection.reactor) { connection.setReading(false) }
            }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(client)  // with linger 0: a reset, not a FIN
            EngineTest.waitUntil(on: connection.reactor) { !delegate.closeEvents.isEmpty }
            XCTAssertEqual(try EngineTest.onReactor(connection.reactor) { delegate.closeEvents },
                           [.closed(.failed(SystemCallError(failedCall, code: ECONNRESET)))], "paused: \(readingPaused)")
            try listener.close().wait()
        }
    }

    /// Out of descriptors, accept4 fails with EMFILE and the clients stay queued; with edge
    /// triggering nothing reports them again, so the listener must retry by itself once
    /// descriptors are free.
    func testAcceptRetriesAfterRunningOutOfDescriptors() throws {
        let accepted = Accepted()
        let errors = LockedValue<[SystemCallError]>([])
        let listener = try Listener(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group,
                                    onError: { error in errors.withLock { $0.append(error) } },
                                    onAccept: { accepted.accept($0) })
        defer { _ = try? listener.close().wait() }
        // The clients' sockets exist before the descriptors run out; connecting needs none.
        let clients = (0..<3).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        defer { clients.forEach { close($0) } }
        XCTAssertFalse(clients.contains(-1))

        var original = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &original), 0)
        var fillers: [Int32] = []
        var lowered = original
        lowered.rlim_cur = rlim_t(EngineTest.openDescriptorCount() + 16)
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered), 0)
        while true {  // every descriptor number below the limit in use
            let filler = dup(0)
            guard filler >= 0 else { break }
            fillers.append(filler)
        }
        for client in clients {
            let result = listener.localAddress.withSockAddr { connect(client, $0, socklen_t($1)) }
            XCTAssertEqual(result, 0)
        }
        EngineTest.waitUntil(on: reactor) { !errors.withLock { $0.isEmpty } }
        XCTAssertEqual(accepted.count, 0)
        fillers.forEach { close($0) }
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &original), 0)

        // No new client arrives: only the listener's own retry can accept the queued ones.
        let deadline = Date().addingTimeInterval(10)
        while accepted.count < clients.count && Date() < deadline { usleep(5000) }
        XCTAssertEqual(accepted.count, clients.count, "every queued client accepted once descriptors were free")
        XCTAssertEqual(errors.withLock { $0.first?.code }, EMFILE)
        for index in 0..<accepted.count {
            let (connection, _) = accepted[index]
            try EngineTest.onReactor(connection.reactor) { connection.close() }
        }
    }

    func testListeningOnAnAddressInUseThrows() throws {
        let listener = try Listener(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group, onAccept: { $0.close() })
        defer { _ = try? listener.close().wait() }
        XCTAssertThrowsError(try Listener(address: listener.localAddress, group: group, onAccept: { $0.close() })) {
            XCTAssertEqual(($0 as? SystemCallError)?.code, EADDRINUSE)
        }
    }

    /// An accepted connection that the callback drops without starting does not leak its
    /// descriptor.
    func testUnstartedAcceptedConnectionReleasesItsDescriptor() throws {
        let descriptorsBefore = EngineTest.openDescriptorCount()
        let seen = LockedValue(0)
        let listener = try Listener(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group,
                                    onAccept: { _ in seen.withLock { $0 += 1 } })
        let client = try EngineTest.blockingClient(to: listener.localAddress)
        XCTAssertTrue(EngineTest.readToEnd(client).sawEndOfInput, "the dropped connection is closed")
        close(client)
        try listener.close().wait()
        XCTAssertEqual(seen.withLock { $0 }, 1)
        XCTAssertEqual(EngineTest.openDescriptorCount(), descriptorsBefore)
    }
}
#endif
