import Logging
import NIOCore
import PGRelayCore

extension ProxyRuntime {
    /// The slow-query log: one line per slow query (log_queries = slow) or per query (all). Only
    /// the fingerprint is logged: literals never reach the log.
    func logQuery(client: ClientSession, settings: HotSettings, fingerprint: @autoclosure () -> String?, durationNanos: UInt64, waitNanos: UInt64,
                  route: QueryRoute, backend: BackendAddress?) {
        let slow = durationNanos > settings.slowThresholdNanos
        switch settings.logQueries {
        case .none: return
        case .slow: guard slow else { return }
        case .all: break
        }
        let durationMs = Double(durationNanos) / 1e6
        var metadata: Logger.Metadata = [
            "fingerprint": "\(fingerprint() ?? "")",
            "duration_ms": "\((durationMs * 1000).rounded() / 1000)",
            "wait_ms": "\((Double(waitNanos) / 1e3).rounded() / 1000)",
            "database": "\(client.database)",
            "user": "\(client.user)",
            "route": "\(route.rawValue)",
            "client": "\(client.id)",
            "application_name": "\(client.applicationName)",
        ]
        if let backend { metadata["backend"] = "\(backend.host):\(backend.port)" }
        logger.log(level: slow ? .warning : .info, slow ? "slow query" : "query", metadata: metadata)
    }
}
