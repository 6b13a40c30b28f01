import NIOCore

/// A replica the router could send a read to: its health and how many queries it has in flight.
public struct ReplicaCandidate: Sendable, Equatable {
    public var health: BackendState
    /// Queries sent to this replica and not finished yet (from the pools' bookkeeping).
    public var outstanding: Int

    public init(health: BackendState, outstanding: Int) {
        self.health = health
        self.outstanding = outstanding
    }
}

/// Picks the replica for a read: only healthy replicas (``BackendState/canServeReads(maxLagMs:now:)``),
/// the least busy first, ties broken round robin by a caller-supplied ticket so that equal replicas
/// take turns. Pure: the same input gives the same answer.
public struct ReplicaSelector: Sendable {
    /// `replica_max_lag_ms`; 0 ignores lag.
    public var maxLagMs: Double

    public init(maxLagMs: Double) {
        self.maxLagMs = maxLagMs
    }

    /// The index in `candidates` of the replica to use, or nil when none is healthy (then the read
    /// goes to the primary). `ticket` is a counter the caller increments per choice: among the
    /// replicas tied for the fewest outstanding queries, the one at `ticket % ties` is chosen.
    public func choose(from candidates: [ReplicaCandidate], ticket: UInt64, now: NIODeadline) -> Int? {
        var fewest = Int.max
        var tied = 0
        for candidate in candidates where candidate.health.canServeReads(maxLagMs: maxLagMs, now: now) {
            let load = max(candidate.outstanding, 0)
            if load < fewest {
                fewest = load
                tied = 1
            } else if load == fewest {
                tied += 1
            }
        }
        guard tied > 0 else { return nil }
        // Second pass instead of collecting the ties: no allocation on the hot path.
        var wanted = Int(ticket % UInt64(tied))
        for (index, candidate) in candidates.enumerated()
        where candidate.health.canServeReads(maxLagMs: maxLagMs, now: now) && max(candidate.outstanding, 0) == fewest {
            if wanted == 0 { return index }
            wanted -= 1
        }
        return nil
    }
}
