import Foundation
import Logging
import NIOCore
import PGWire

/// The info lines PgBouncer writes about its clients, under the same keys: `log_connections`
/// (a client logged in), `log_disconnections` (a client left, and why) and `log_pooler_errors`
/// (an error the pooler itself sends to a client). Never a password or statement text.
extension ClientSession {
    /// Why a client left when it closed the connection itself without a Terminate message.
    static let unexpectedEOFReason = "client unexpected eof"
    /// Why a client left after its Terminate message.
    static let closeRequestReason = "client close request"

    /// "login attempt" (PgBouncer's words, though it is written once the login has succeeded).
    func logLogin() {
        guard runtime.config.logConnections else { return }
        logger.info("login attempt", metadata: [
            "user": "\(user)", "database": "\(database)", "addr": "\(remoteDescription)", "tls": "\(tlsLogValue)",
        ])
    }

    /// "closing because: <reason> (age=<s>s)", PgBouncer's line, for every client that sent a
    /// startup packet or got this far.
    func logDisconnection(reason: String) {
        guard runtime.config.logDisconnections else { return }
        let age = Double(NIODeadline.now().uptimeNanoseconds - connectedAt.uptimeNanoseconds) / 1e9
        var metadata: Logger.Metadata = ["addr": "\(remoteDescription)", "age_s": "\(String(format: "%.3f", age))"]
        if !user.isEmpty {
            metadata["user"] = "\(user)"
            metadata["database"] = "\(database)"
        }
        logger.info("closing because: \(reason) (age=\(Int(age))s)", metadata: metadata)
    }

    /// An error pgrelay raises itself (not one relayed from a server): message and SQLSTATE only.
    func logPoolerError(_ error: ErrorFields) {
        guard runtime.config.logPoolerErrors else { return }
        var metadata: Logger.Metadata = ["sqlstate": "\(error.sqlState ?? "")", "addr": "\(remoteDescription)"]
        if !user.isEmpty {
            metadata["user"] = "\(user)"
            metadata["database"] = "\(database)"
        }
        logger.warning("pooler error: \(error.message)", metadata: metadata)
    }

    private var tlsLogValue: String {
        let description = tlsDescription
        return description.isEmpty ? "no" : description
    }
}
