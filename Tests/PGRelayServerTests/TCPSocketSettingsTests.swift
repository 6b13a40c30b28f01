#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import XCTest
@testable import PGRelayCore
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
    func testAcceptedAndConnectedSocketsCarryTheOptions() throws {
        let settings = TCPSocketSettings(config: config(idle: 37, interval: 11, count: 4, userTimeout: 2500, deferAccept: true))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let accepted = group.next().makePromise(of: Channel.self)
        let listener = try ServerBootstrap(group: group)
            .tcpListenerSettings(settings)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try settings.apply(to: channel)
                    accepted.succeed(channel)
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? listener.close().wait() }
        let port = try XCTUnwrap(listener.localAddress?.port)
        let client = try ClientBootstrap(group: group).tcpSettings(settings).connect(host: "127.0.0.1", port: port).wait()
        defer { try? client.close().wait() }
        // TCP_DEFER_ACCEPT holds the connection back until the client sends something.
        try client.writeAndFlush(client.allocator.buffer(string: "x")).wait()
        let server = try accepted.futureResult.wait()

        func read(_ channel: Channel, _ level: NIOBSDSocket.OptionLevel, _ name: Int32) throws -> SocketOptionValue {
            try channel.getOption(ChannelOptions.Types.SocketOption(level: level, name: NIOBSDSocket.Option(rawValue: name))).wait()
        }
        for channel in [server, client] {
            XCTAssertEqual(try read(channel, .socket, SO_KEEPALIVE), 1)
            XCTAssertEqual(try read(channel, .tcp, TCP_KEEPIDLE), 37)
            XCTAssertEqual(try read(channel, .tcp, TCP_KEEPINTVL), 11)
            XCTAssertEqual(try read(channel, .tcp, TCP_KEEPCNT), 4)
            XCTAssertEqual(try read(channel, .tcp, TCP_USER_TIMEOUT), 2500)
            XCTAssertEqual(try read(channel, .tcp, Int32(TCP_NODELAY)), 1)
        }
        // Linux reports the deferral in (rounded-up) seconds of SYN-ACK retransmission time.
        XCTAssertGreaterThan(try read(listener, .tcp, TCP_DEFER_ACCEPT), 0)
        // A reload that turns tcp_defer_accept off reaches the bound listener.
        try TCPSocketSettings(config: config(deferAccept: false)).applyToListener(listener).wait()
        XCTAssertEqual(try read(listener, .tcp, TCP_DEFER_ACCEPT), 0)
    }

    func testKeepaliveOffIsOffOnTheSocket() throws {
        let settings = TCPSocketSettings(config: config(keepalive: false))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let listener = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? listener.close().wait() }
        let client = try ClientBootstrap(group: group).tcpSettings(settings)
            .connect(host: "127.0.0.1", port: try XCTUnwrap(listener.localAddress?.port)).wait()
        defer { try? client.close().wait() }
        let value = try client.getOption(ChannelOptions.Types.SocketOption(level: .socket, name: .so_keepalive)).wait()
        XCTAssertEqual(value, 0)
    }
    #endif
}
