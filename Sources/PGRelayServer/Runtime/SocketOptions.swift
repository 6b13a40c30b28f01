#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import PGRelayCore

/// PgBouncer's TCP socket keys as socket options: `tcp_keepalive`, `tcp_keepidle`,
/// `tcp_keepintvl`, `tcp_keepcnt` and `tcp_user_timeout` on every TCP connection pgrelay accepts
/// from clients or opens to servers (plus TCP_NODELAY, always on, as PgBouncer does), and
/// `tcp_defer_accept` on the TCP listeners. A value of 0 leaves the OS default. The keepalive
/// details and the user timeout are Linux options; elsewhere only SO_KEEPALIVE is set.
struct TCPSocketSettings: Sendable, Equatable {
    /// One option and the value it gets.
    struct Setting: Sendable, Equatable {
        var option: ChannelOptions.Types.SocketOption
        var value: SocketOptionValue
    }

    /// Options for connected sockets (clients and servers), in the order they are set.
    private(set) var connection: [Setting] = []
    /// Options for the TCP listening sockets.
    private(set) var listener: [Setting] = []

    /// Seconds TCP_DEFER_ACCEPT holds a connection back until its first bytes: 1, what PgBouncer
    /// sets (its docs say 45, its code sets 1). Longer would hide a client that connects and says
    /// nothing from client_login_timeout for that long: the kernel only hands it over after the
    /// deferral (a SYN-ACK retransmission later).
    static let deferAcceptSeconds: SocketOptionValue = 1

    init(config: Config) {
        connection.append(Setting(option: ChannelOptions.Types.SocketOption(level: .tcp, name: .tcp_nodelay), value: 1))
        connection.append(Setting(option: ChannelOptions.Types.SocketOption(level: .socket, name: .so_keepalive),
                                  value: config.tcpKeepalive ? 1 : 0))
        #if os(Linux)
        if config.tcpKeepalive {
            for (name, value) in [(TCP_KEEPIDLE, config.tcpKeepidle), (TCP_KEEPINTVL, config.tcpKeepintvl), (TCP_KEEPCNT, config.tcpKeepcnt)]
            where value > 0 {
                connection.append(Setting(option: Self.tcpOption(name), value: SocketOptionValue(clamping: value)))
            }
        }
        if config.tcpUserTimeout > 0 {
            connection.append(Setting(option: Self.tcpOption(TCP_USER_TIMEOUT), value: SocketOptionValue(clamping: config.tcpUserTimeout)))
        }
        // Set when off too (0), so that a reload that turns it off reaches the open listener.
        listener.append(Setting(option: Self.tcpOption(TCP_DEFER_ACCEPT), value: config.tcpDeferAccept ? Self.deferAcceptSeconds : 0))
        #endif
    }

    private static func tcpOption(_ name: Int32) -> ChannelOptions.Types.SocketOption {
        ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: name))
    }

    /// Sets the connection options on an accepted or connected TCP channel (on its event loop).
    func apply(to channel: Channel) throws {
        guard let options = channel.syncOptions else { return }
        for setting in connection { try options.setOption(setting.option, value: setting.value) }
    }

    /// Sets the listener options on a TCP listener already bound (after a reload or `SET`).
    func applyToListener(_ channel: Channel) -> EventLoopFuture<Void> {
        let futures = listener.map { channel.setOption($0.option, value: $0.value) }
        return EventLoopFuture.andAllSucceed(futures, on: channel.eventLoop)
    }
}

extension ClientBootstrap {
    /// The connection options of `settings`, set on the socket before it connects.
    func tcpSettings(_ settings: TCPSocketSettings) -> ClientBootstrap {
        settings.connection.reduce(self) { bootstrap, setting in bootstrap.channelOption(setting.option, value: setting.value) }
    }
}

extension ServerBootstrap {
    /// The listener options of `settings` (TCP_DEFER_ACCEPT), set before the socket binds.
    func tcpListenerSettings(_ settings: TCPSocketSettings) -> ServerBootstrap {
        settings.listener.reduce(self) { bootstrap, setting in bootstrap.serverChannelOption(setting.option, value: setting.value) }
    }
}
