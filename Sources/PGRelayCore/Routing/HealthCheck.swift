import NIOCore

/// The health check query and the judgement of its answer. Pure: the checker in PGRelayServer
/// runs the query and feeds the outcome here.
public enum HealthCheck {
    /// One query for primaries and replicas alike. `pg_current_wal_lsn()` fails during recovery,
    /// hence the CASE; the `pg_last_wal_*` functions are NULL on a server not in recovery.
    public static let query = """
        SELECT pg_is_in_recovery() AS in_recovery, \
        CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn, \
        CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS timeline, \
        pg_last_wal_receive_lsn()::text AS receive_lsn, \
        pg_last_wal_replay_lsn()::text AS replay_lsn, \
        (EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) * 1000)::float8 AS replay_age_ms
        """

    /// What one backend answered to ``query``.
    public struct Probe: Sendable, Equatable {
        public var inRecovery: Bool
        /// `pg_current_wal_lsn()`: set on a server not in recovery.
        public var currentPosition: WALPosition?
        public var receivePosition: WALPosition?
        public var replayPosition: WALPosition?
        /// Age of the last replayed transaction in ms; nil when none was replayed.
        public var replayAgeMs: Double?
        /// A primary's timeline: a promotion starts a new one, so two primaries on different
        /// timelines are an old and a new one.
        public var timeline: UInt32?

        public init(inRecovery: Bool, currentPosition: WALPosition? = nil, receivePosition: WALPosition? = nil,
                    replayPosition: WALPosition? = nil, replayAgeMs: Double? = nil, timeline: UInt32? = nil) {
            self.inRecovery = inRecovery
            self.timeline = timeline
            self.currentPosition = currentPosition
            self.receivePosition = receivePosition
            self.replayPosition = replayPosition
            self.replayAgeMs = replayAgeMs
        }

        /// Reads the answer to ``HealthCheck/query``; throws a description when it is not one.
        public init(result: QueryResult) throws {
            guard result.rows.count == 1 else {
                throw ProbeError("health check returned \(result.rows.count) rows instead of 1")
            }
            switch result.value(row: 0, column: "in_recovery") {
            case "t"?: inRecovery = true
            case "f"?: inRecovery = false
            default: throw ProbeError("health check returned no boolean for pg_is_in_recovery()")
            }
            func position(_ column: String) throws -> WALPosition? {
                guard let text = result.value(row: 0, column: column) else { return nil }
                guard let position = WALPosition(parsing: text) else {
                    throw ProbeError("health check returned an invalid WAL position in \(column)")
                }
                return position
            }
            currentPosition = try position("current_lsn")
            if let text = result.value(row: 0, column: "timeline") {
                guard let value = UInt32(text, radix: 16) else { throw ProbeError("health check returned an invalid timeline") }
                timeline = value
            } else {
                timeline = nil
            }
            receivePosition = try position("receive_lsn")
            replayPosition = try position("replay_lsn")
            if let text = result.value(row: 0, column: "replay_age_ms") {
                guard let age = Double(text) else { throw ProbeError("health check returned an invalid replay age") }
                replayAgeMs = age
            } else {
                replayAgeMs = nil
            }
        }
    }

    /// A health check answer that does not have the expected shape.
    public struct ProbeError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The health of a backend after a check.
    ///
    /// - Parameters:
    ///   - previous: its health before (for the failure count and the ban, which are kept).
    ///   - outcome: the probe, or why the check failed (a description safe to log).
    ///   - primaryPosition: the primary's WAL position read just before (nil if unknown).
    ///   - maxLagMs: `replica_max_lag_ms`; 0 ignores lag.
    public static func evaluate(previous: BackendState, outcome: Result<Probe, ProbeError>,
                                primaryPosition: WALPosition?, maxLagMs: Double, now: NIODeadline) -> BackendState {
        var health = previous
        health.checkedAt = now
        let probe: Probe
        switch outcome {
        case .failure(let error):
            health.status = .down
            health.lastError = error.description
            health.consecutiveFailures += 1
            return health
        case .success(let value):
            probe = value
        }
        health.inRecovery = probe.inRecovery
        health.timeline = probe.inRecovery ? nil : probe.timeline
        health.lastError = nil
        health.consecutiveFailures = 0
        switch previous.id.role {
        case .primary:
            health.lagMs = 0
            health.lagBytes = nil
            if probe.inRecovery {
                health.status = .wrongRole
                health.lastError = "configured as primary but in recovery (a standby)"
            } else {
                health.status = .up
            }
        case .replica:
            guard probe.inRecovery else {
                health.status = .wrongRole
                health.lastError = "configured as replica but not in recovery (promoted?)"
                health.lagMs = 0
                health.lagBytes = nil
                return health
            }
            let lag = ReplicationLag.estimate(primaryPosition: primaryPosition, receivePosition: probe.receivePosition,
                                              replayPosition: probe.replayPosition, replayAgeMs: probe.replayAgeMs)
            health.lagMs = lag.milliseconds
            health.lagBytes = lag.bytes
            if maxLagMs > 0, lag.milliseconds > maxLagMs {
                health.status = .lagging
                health.lastError = "replication lag " + (lag.milliseconds.isFinite ? "\(Int(lag.milliseconds)) ms" : "unknown")
                    + " exceeds replica_max_lag_ms (\(Int(maxLagMs)) ms)"
            } else {
                health.status = .up
            }
        }
        return health
    }
}
