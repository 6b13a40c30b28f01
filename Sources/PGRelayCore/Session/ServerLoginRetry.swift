import Foundation
import NIOCore
import PGWire

/// PgBouncer's `server_login_retry` for one pool: after a failed connect or login the pool waits
/// before it tries again, and meanwhile new clients that find no server fail at once with the
/// cached error instead of queueing for a server that is not there.
///
/// A server that refused the login (a wrong password, a missing database) is retried after
/// `server_login_retry`, as in PgBouncer. A server that could not be reached, or that is starting
/// up or shutting down (SQLSTATE class 57), is retried sooner: 0.25 s after the first such
/// failure, doubling with each one after it, never later than `server_login_retry`. A restarted
/// primary (`pg_ctl restart`, a second or two down) is then used again within about as long as it
/// was down, instead of up to 15 s later, while a host that stays down is asked at most once per
/// `server_login_retry` after a few attempts.
public struct ServerLoginRetry: Sendable {
    /// When the last connection attempt failed, and why (nil after a success).
    public private(set) var lastFailure: (at: NIODeadline, message: String)?
    /// Failures in a row that may clear up by themselves (unreachable, class 57); 0 when the last
    /// failure was a refusal.
    public private(set) var transientFailures = 0
    /// Whether a login ever succeeded: until one has, the server (or the first host of a
    /// `host=` list) is untried, and attempts go one at a time, as PgBouncer's always do, so that
    /// a host that does not answer is tried once, not once per queued client.
    public private(set) var hasSucceeded = false

    /// The first wait after a transient failure.
    public static let firstTransientWait = 0.25

    public init() {}

    /// `transient`: the server could not be reached, or answered with a class 57 error.
    public mutating func failed(at time: NIODeadline, message: String, transient: Bool = false) {
        lastFailure = (time, message)
        transientFailures = transient ? transientFailures + 1 : 0
    }

    public mutating func succeeded() {
        hasSucceeded = true
        lastFailure = nil
        transientFailures = 0
    }

    /// Forgets the last failure without a success (a reload may have fixed its cause).
    public mutating func reset() {
        lastFailure = nil
        transientFailures = 0
    }

    /// Seconds to wait after the last failure before the next attempt (0 without a failure).
    public func wait(retry: Double) -> Double {
        guard lastFailure != nil else { return 0 }
        let longest = max(0, retry)
        guard transientFailures > 0 else { return longest }
        let doublings = Double(min(transientFailures - 1, 30))
        return min(longest, Self.firstTransientWait * pow(2, doublings))
    }

    /// Whether a new connection attempt may start: always after a success; before the first
    /// one, one attempt at a time (`inFlight` attempts running); after a failure only once
    /// `wait(retry:)` has passed, and one at a time.
    public func mayConnect(now: NIODeadline, retry: Double, inFlight: Int) -> Bool {
        guard let lastFailure else { return hasSucceeded || inFlight == 0 }
        guard inFlight == 0 else { return false }
        return now - lastFailure.at >= .nanoseconds(Int64(wait(retry: retry) * 1e9))
    }

    /// Whether a failed login may clear up by itself: the server was not reached, or it is
    /// starting up, shutting down or out of resources for now (class 57: 57P01-57P05).
    public static func isTransient(_ error: ErrorFields, serverAnswered: Bool) -> Bool {
        !serverAnswered || (error.sqlState ?? "").hasPrefix("57")
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
