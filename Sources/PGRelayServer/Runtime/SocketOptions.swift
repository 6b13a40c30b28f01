#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PGRelayCore
import PGRelayEngine

/// PgBouncer's TCP socket keys as socket options: `tcp_keepalive`, `tcp_keepidle`,
/// `tcp_keepintvl`, `tcp_keepcnt` and `tcp_user_timeout` on every TCP connection pgrelay accepts
/// from clients or opens to servers (plus TCP_NODELAY, always on, as PgBouncer does), and
/// `tcp_defer_accept` on the TCP listeners. A value of 0 leaves the OS default. The keepalive
/// details and the user timeout are Linux options; elsewhere only SO_KEEPALIVE is set.
struct TCPSocketSettings: Sendable, Equatable {
    /// Options for connected sockets (clients and servers), in the order they are set.
    private(set) var connection: [SocketOption] = []
    /// Options for the TCP listening sockets.
    private(set) var listener: [SocketOption] = []

    /// Seconds TCP_DEFER_ACCEPT holds a connection back until its first bytes: 1, what PgBouncer
    /// sets (its docs say 45, its code sets 1). Longer would hide a client that connects and says
    /// nothing from client_login_timeout for that long: the kernel only hands it over after the
    /// deferral (a SYN-ACK retransmission later).
    static let deferAcceptSeconds: Int32 = 1

    init(config: Config) {
        connection.append(Self.tcp(Int32(TCP_NODELAY), 1, "TCP_NODELAY"))
        connection.append(SocketOption(level: SOL_SOCKET, name: SO_KEEPALIVE, value: config.tcpKeepalive ? 1 : 0, label: "SO_KEEPALIVE"))
        #if os(Linux)
        if config.tcpKeepalive {
            for (name, value, label) in [(TCP_KEEPIDLE, config.tcpKeepidle, "TCP_KEEPIDLE"), (TCP_KEEPINTVL, config.tcpKeepintvl, "TCP_KEEPINTVL"),
                                         (TCP_KEEPCNT, config.tcpKeepcnt, "TCP_KEEPCNT")]
            where value > 0 {
                connection.append(Self.tcp(name, Int32(clamping: value), label))
            }
        }
        if config.tcpUserTimeout > 0 {
            connection.append(Self.tcp(TCP_USER_TIMEOUT, Int32(clamping: config.tcpUserTimeout), "TCP_USER_TIMEOUT"))
        }
        // Set when off too (0), so that a reload that turns it off reaches the open listener.
        listener.append(Self.tcp(TCP_DEFER_ACCEPT, config.tcpDeferAccept ? Self.deferAcceptSeconds : 0, "TCP_DEFER_ACCEPT"))
        #endif
    }

    private static func tcp(_ name: Int32, _ value: Int32, _ label: String) -> SocketOption {
        SocketOption(level: Int32(IPPROTO_TCP), name: name, value: value, label: label)
    }
}
