import NIOCore
import PGWire

/// PgBouncer's `server_login_retry` for one pool: after a failed connect or login the pool waits
/// this long before it tries again, and meanwhile new clients that find no server fail at once
/// with the cached error instead of queueing for a server that is not there.
public struct ServerLoginRetry: Sendable {
    /// When the last connection attempt failed, and why (nil after a success).
    public private(set) var lastFailure: (at: NIODeadline, message: String)?

    public init() {}

    public mutating func failed(at time: NIODeadline, message: String) {
        lastFailure = (time, message)
    }

    public mutating func succeeded() {
        lastFailure = nil
    }

    /// Forgets the last failure without a success (a reload may have fixed its cause).
    public mutating func reset() {
        lastFailure = nil
    }

    /// Whether a new connection attempt may start: always after a success; after a failure only
    /// once `retry` seconds have passed, and one attempt at a time (`inFlight` attempts running).
    public func mayConnect(now: NIODeadline, retry: Double, inFlight: Int) -> Bool {
        guard let lastFailure else { return true }
        guard inFlight == 0 else { return false }
        return now - lastFailure.at >= .nanoseconds(Int64(max(0, retry) * 1e9))
    }

    /// The error for a new client when logins are failing and the pool has no server at all.
    public func fastFailError(serversAlive: Int) -> ErrorFields? {
        guard let lastFailure, serversAlive == 0 else { return nil }
        return ErrorFields(severity: "FATAL", sqlState: "08006",
                           message: "server login has been failing, cached error: \(lastFailure.message) (server_login_retry)")
    }
}

/// Whether a failed server login also fails the clients queued for that pool. As in PgBouncer,
/// an error the server answered with (wrong password, no such database) fails them at once,
/// since every attempt would meet it; a server that cannot be reached, or answers "starting up"
/// (57P03), leaves them queued for the retry, until `query_wait_timeout`.
public enum ServerLoginFailure {
    public static func failsWaitingClients(_ error: ErrorFields, serverAnswered: Bool) -> Bool {
        serverAnswered && error.sqlState != "57P03"
    }
}
