import NIOCore
import PGRelayCore

/// The lists the admin API serves at `GET /pools`, `/servers`, `/clients`, `/databases`, `/config`.
public enum AdminListing: String, CaseIterable, Sendable {
    case pools
    case servers
    case clients
    case databases
    case config
    /// SHOW ROUTES: every backend of every database, its role, health and when the role changed.
    case backends
}

/// A cell of an admin listing row.
public enum AdminValue: Equatable, Sendable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null

    /// The JSON form of the value.
    public var json: JSONValue {
        switch self {
        case let .string(value): return .string(value)
        case let .int(value): return .int(value)
        case let .double(value): return .double(value)
        case let .bool(value): return .bool(value)
        case .null: return .null
        }
    }
}

/// An error the admin API reports with a specific HTTP status, e.g. 404 for an unknown database.
/// The message is shown to the caller: it must not carry secrets or SQL literals.
public struct AdminAPIError: Error, Equatable, Sendable {
    public var statusCode: Int
    public var message: String

    /// Creates an error with an HTTP status code (400..599) and a message for the caller.
    public init(statusCode: Int, message: String) {
        self.statusCode = (400 ... 599).contains(statusCode) ? statusCode : 500
        self.message = message
    }
}

/// What the admin HTTP server needs from the rest of the proxy; the server implements it.
///
/// The methods are called on the admin server's own event loop: they must not block for long
/// (take a lock, copy, return). Futures may complete on any event loop.
public protocol AdminAPI: AnyObject, Sendable {
    /// Merged query statistics, for `/metrics/queries`, `/health` and `/metrics`.
    func queryStats() -> QueryStatsSnapshot
    /// Every backend with its last check result, for `/health`.
    func healthBackends() -> [BackendHealth]
    /// Latency per completed window slot, oldest first, and the settings they were taken with,
    /// for `/metrics/queries/history` and the dashboard.
    func queryHistory() -> (points: [QueryHistoryPoint], settings: StatsSettings)
    /// Rows of a listing (`/config` with secrets masked); a future, since live clients and
    /// servers are read on their own event loops.
    func listing(_ name: AdminListing) -> EventLoopFuture<[[String: AdminValue]]>
    /// Pool, client, server and routing figures for `/metrics` (a future, as `listing`).
    func prometheusSamples() -> EventLoopFuture<[PrometheusSample]>
    /// Reloads the config file; succeeds with a short message, fails with the reason.
    func reload() -> EventLoopFuture<String>
    /// Pauses one database, or all when nil.
    func pause(database: String?) -> EventLoopFuture<String>
    /// Resumes one database, or all when nil.
    func resume(database: String?) -> EventLoopFuture<String>
}
