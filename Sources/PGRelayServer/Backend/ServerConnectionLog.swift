import NIOCore
import PGRelayCore

/// The info lines PgBouncer writes about its server connections, in its words and with its
/// prefix (`database/user@host:port`), which operators grep for: "new connection to server (from
/// addr)" under `log_connections`, "closing because: reason (age=Ns)" under `log_disconnections`.
extension ServerConnection {
    var logPrefix: String { "\(pool.key.database)/\(pool.key.user)@\(address)" }

    func logNewConnection(local: SocketAddress?) {
        guard pool.runtime.config.logConnections else { return }
        let from: String
        if let local, let ip = local.ipAddress {
            from = local.protocol == .inet6 ? "[\(ip)]:\(local.port ?? 0)" : "\(ip):\(local.port ?? 0)"
        } else {
            from = "unix socket"
        }
        logger.info("\(logPrefix) new connection to server (from \(from))", metadata: ["server": "\(id)"])
    }

    func logClosing(reason: String) {
        guard pool.runtime.config.logDisconnections else { return }
        let age = Int((NIODeadline.now() - createdAt).nanoseconds / 1_000_000_000)
        logger.info("\(logPrefix) closing because: \(reason) (age=\(age)s)", metadata: ["server": "\(id)"])
    }
}
