#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import XCTest
@testable import PGRelayCore
@testable import PGRelayEngine
@testable import PGRelayServer

/// tcp_keepalive, tcp_keepidle, tcp_keepintvl, tcp_keepcnt, tcp_user_timeout and tcp_defer_accept
/// reach the kernel: the values are read back with getsockopt from real sockets.
final class TCPSocketSettingsTests: XCTestCase {
    private func config(keepalive: Bool = true, idle: Int = 0, interval: Int = 0, count: Int = 0,
                        userTimeout: Int = 0, deferAccept: Bool = false) -> Config {
        var config = Config()
        config.tcpKeepalive = keepalive
        config.tcpKeepidle = idle
        config.tcpKeepintvl = interval
        config.tcpKeepcnt = count
        config.tcpUserTimeout = userTimeout
        config.tcpDeferAccept = deferAccept
        return config
    }

    func testZeroValuesLeaveTheOSDefaultsAndOnlySetKeepaliveAndNoDelay() {
        let settings = TCPSocketSettings(config: config())
        XCTAssertEqual(settings.connection.map(\.value), [1, 1])
        #if os(Linux)
        XCTAssertEqual(settings.listener.map(\.value), [0], "tcp_defer_accept = 0 sets 0, so that a reload can turn it off")
        #endif
        XCTAssertEqual(TCPSocketSettings(config: config(keepalive: false, idle: 30)).connection.map(\.value), [1, 0],
                       "tcp_keepalive = 0 turns keepalive off and ignores its details")
    }

    #if os(Linux)
    private func read(_ descriptor: Int32, _ level: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        XCTAssertEqual(getsockopt(descriptor, level, name, &value, &length), 0)
        return value
    }

    /// The engine's sockets, set up as `ProxyServer` and `ServerConnection` set them up.
    func testAcceptedAndConnectedSocketsCarryTheOptions() throws {
        let settings = TCPSocketSettings(config: config(idle: 37, interval: 11, count: 4, userTimeout: 2500, deferAccept: true))
        let group = try ReactorGroup(workers: 1)
        defer { try? group.syncShutdownGracefully() }
        let reactor = group.nextReactor()
        let accepted = reactor.makePromise(of: SocketConnection.self)
        let listener = try Listener(address: SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group,
                                    socketOptions: settings.listener) { connection in
            for option in settings.connection { try? connection.setOption(option) }
            accepted.succeed(connection)
        }
        defer { try? listener.close().wait() }
        let client = try Connector.connect(to: listener.localAddress, on: reactor, timeout: .seconds(5)).flatMapThrowing { connection in
            for option in settings.connection { try connection.setOption(option) }
            return connection
        }.wait()
        // TCP_DEFER_ACCEPT holds the connection back until the client sends something.
        try reactor.submit {
            client.write(ByteBuffer(string: "x"))
            client.flush()
        }.wait()
        let server = try accepted.futureResult.wait()
        for connection in [server, client] {
            XCTAssertEqual(read(connection.descriptor, SOL_SOCKET, SO_KEEPALIVE), 1)
            XCTAssertEqual(read(connection.descriptor, Int32(IPPROTO_TCP), TCP_KEEPIDLE), 37)
            XCTAssertEqual(read(connection.descriptor, Int32(IPPROTO_TCP), TCP_KEEPINTVL), 11)
            XCTAssertEqual(read(connection.descriptor, Int32(IPPROTO_TCP), TCP_KEEPCNT), 4)
            XCTAssertEqual(read(connection.descriptor, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT), 2500)
            XCTAssertEqual(read(connection.descriptor, Int32(IPPROTO_TCP), Int32(TCP_NODELAY)), 1)
        }
        // Linux reports the deferral in (rounded-up) seconds of SYN-ACK retransmission time.
        XCTAssertGreaterThan(read(listener.descriptor, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT), 0)
        // A reload that turns tcp_defer_accept off reaches the bound listener.
        for option in TCPSocketSettings(config: config(deferAccept: false)).listener {
            try listener.setOption(option).wait()
        }
        XCTAssertEqual(read(listener.descriptor, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT), 0)
        try reactor.submit {
            client.close()
            server.close()
        }.wait()
    }

    func testKeepaliveOffIsOffOnTheSocket() throws {
        let settings = TCPSocketSettings(config: config(keepalive: false))
        let group = try ReactorGroup(workers: 1)
        defer { try? group.syncShutdownGracefully() }
        let reactor = group.nextReactor()
        let listener = try Listener(address: SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group) { $0.close() }
        defer { try? listener.close().wait() }
        let client = try Connector.connect(to: listener.localAddress, on: reactor, timeout: .seconds(5)).flatMapThrowing { connection in
            for option in settings.connection { try connection.setOption(option) }
            return connection
        }.wait()
        XCTAssertEqual(read(client.descriptor, SOL_SOCKET, SO_KEEPALIVE), 0)
        try reactor.submit { client.close() }.wait()
    }
    #endif
}
