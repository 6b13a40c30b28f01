import NIOCore

/// The role a backend has in the configuration: `host=` is the primary, `replicas=` are replicas.
public enum BackendRole: String, Sendable, Hashable {
    case primary
    case replica
}

/// One backend as the router knows it: which database entry it serves, where it listens, and the
/// role the configuration gives it. Two database entries on the same server are two backends,
/// because each is checked (and may fail) on its own.
public struct BackendID: Sendable, Hashable, CustomStringConvertible {
    /// The `[databases]` entry name (the name clients ask for; `*` for the fallback entry).
    public var database: String
    public var address: BackendAddress
    public var role: BackendRole

    public init(database: String, address: BackendAddress, role: BackendRole) {
        self.database = database
        self.address = address
        self.role = role
    }

    public var description: String { "\(database)@\(address) (\(role.rawValue))" }
}

/// What the last health checks said about one backend. A value: the registry swaps whole
/// snapshots, so a reader never sees half an update.
public struct BackendState: Sendable, Equatable {
    /// Whether the backend can take reads as far as its checks know.
    public enum Status: String, Sendable, Equatable {
        /// Not checked yet (new in the configuration): no reads until the first check passes.
        case unknown
        /// The last check succeeded and the server's role matches its configured role.
        case up
        /// The last check failed (connect, login, query or timeout).
        case down
        /// The check succeeded but the server is not what the configuration says: a replica that
        /// was promoted (not in recovery), or a primary that is in recovery. Routed around.
        case wrongRole
        /// The replica answers but lags more than `replica_max_lag_ms`.
        case lagging
        /// A `hosts=` server that answers as a primary while another one does too: no writes go
        /// to either until one is left.
        case splitBrain = "split_brain"
    }

    public var id: BackendID
    public var status: Status
    /// `pg_is_in_recovery()` from the last successful check; nil before one.
    public var inRecovery: Bool?
    /// Estimated replication lag in milliseconds (0 on a primary and on a caught-up replica).
    public var lagMs: Double
    /// Bytes of WAL the replica has still to replay, when the primary's position is known.
    public var lagBytes: UInt64?
    /// Why the last check failed; nil after a success. Never holds secrets or SQL literals.
    public var lastError: String?
    /// Checks failed in a row (0 after a success).
    public var consecutiveFailures: Int
    /// Until when the router keeps reads away after a failed read on this backend; nil if not banned.
    public var bannedUntil: NIODeadline?
    /// When the last check (successful or not) finished; nil before the first.
    public var checkedAt: NIODeadline?
    /// `hosts=` servers: when the checks first found the server in its present role, as seconds
    /// since 1970 (shown to operators, hence wall-clock time); nil before, and for configured roles.
    public var roleChangedAt: Double?
    /// The server's timeline (from its WAL file name), when it is a primary and was checked.
    public var timeline: UInt32?

    public init(id: BackendID, status: Status = .unknown, inRecovery: Bool? = nil, lagMs: Double = 0,
                lagBytes: UInt64? = nil, lastError: String? = nil, consecutiveFailures: Int = 0,
                bannedUntil: NIODeadline? = nil, checkedAt: NIODeadline? = nil) {
        self.id = id
        self.status = status
        self.inRecovery = inRecovery
        self.lagMs = lagMs
        self.lagBytes = lagBytes
        self.lastError = lastError
        self.consecutiveFailures = consecutiveFailures
        self.bannedUntil = bannedUntil
        self.checkedAt = checkedAt
    }

    /// True when the backend is banned at `now`.
    public func isBanned(at now: NIODeadline) -> Bool {
        guard let bannedUntil else { return false }
        return now < bannedUntil
    }

    /// True when this replica may take reads at `now`: its last check passed, it is in recovery,
    /// its lag is within `maxLagMs` (0 ignores lag) and it is not banned.
    public func canServeReads(maxLagMs: Double, now: NIODeadline) -> Bool {
        guard id.role == .replica, status == .up, inRecovery == true, !isBanned(at: now) else { return false }
        return maxLagMs <= 0 || lagMs <= maxLagMs
    }
}
