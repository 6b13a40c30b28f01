import NIOCore

/// Where the writes of a `hosts=` database go, as its last round of checks found.
public enum PrimaryVerdict: Sendable, Equatable {
    /// Exactly one server answered as a primary.
    case primary(BackendAddress)
    /// No server answered as a primary: the primary is down or every server is in recovery.
    /// Writes wait (up to query_wait_timeout) for the next round to find one.
    case none(reason: String)
    /// More than one server answered as a primary. Writes stop with ``splitBrainMessage`` until
    /// one is left: sending them to both would fork the data.
    case splitBrain([BackendAddress])

    public var primary: BackendAddress? {
        if case .primary(let address) = self { return address }
        return nil
    }

    /// The error a write gets during a split brain (the health `reason` of the servers too).
    public static func splitBrainMessage(database: String, primaries: [BackendAddress]) -> String {
        "split_brain: \(primaries.count) servers of database \"\(database)\" are primaries at once ("
            + primaries.map(\.description).joined(separator: ", ") + "); writes are stopped until only one is"
    }
}

/// What the checks know about a database whose `hosts=` list does not say which server is the
/// primary. A value: the registry swaps it whole after each round.
public struct DiscoveredDatabase: Sendable, Equatable {
    public var database: String
    /// One state per listed server, in list order. `id.role` is the role the server last showed
    /// (replica before it was ever checked: an unchecked server takes no traffic anyway).
    public var members: [BackendState]
    public var verdict: PrimaryVerdict
    /// The server most recently found to be the primary; kept through rounds that find none, so
    /// that its return is not taken for a failover.
    public var lastPrimary: BackendAddress?
    /// When `lastPrimary` was first found to be the primary (seconds since 1970).
    public var primaryChangedAt: Double?
    /// How often the primary moved to another server since start.
    public var failovers: UInt64

    public init(database: String, hosts: [BackendAddress]) {
        self.database = database
        self.members = hosts.map { BackendState(id: BackendID(database: database, address: $0, role: .replica)) }
        self.verdict = .none(reason: "no server checked yet")
        self.lastPrimary = nil
        self.primaryChangedAt = nil
        self.failovers = 0
    }

    /// The same database with another host list (a reload): servers still listed keep what is
    /// known about them; a primary no longer listed is forgotten.
    public func relisted(_ hosts: [BackendAddress]) -> DiscoveredDatabase {
        var copy = DiscoveredDatabase(database: database, hosts: hosts)
        copy.members = hosts.map { address in
            members.first { $0.id.address == address } ?? BackendState(id: BackendID(database: database, address: address, role: .replica))
        }
        copy.failovers = failovers
        if let last = lastPrimary, hosts.contains(last) {
            copy.lastPrimary = last
            copy.primaryChangedAt = primaryChangedAt
            if verdict == .primary(last) { copy.verdict = verdict }
        }
        return copy
    }
}

/// The election of a `hosts=` database's primary from one round of checks. Pure: the health
/// checker runs the probes and carries out the events (log lines, pools told where to connect).
public enum PrimaryDiscovery {
    /// What changed in a round, in the order it should be logged.
    public enum Event: Sendable, Equatable {
        /// A server showed another role than in its last successful check.
        case roleChanged(BackendAddress, from: BackendRole, to: BackendRole)
        /// The first primary found since start (or since a reload listed it): not a failover.
        case primaryFound(BackendAddress)
        /// Writes moved from one server to another: a failover or switchover.
        case failover(from: BackendAddress, to: BackendAddress)
        /// The primary found before is gone or in recovery, and no other server is a primary yet.
        case primaryLost(reason: String)
        /// More than one server answers as a primary.
        case splitBrain([BackendAddress])
    }

    /// One round: `outcomes` holds one probe outcome per member, in member order.
    public static func evaluate(previous: DiscoveredDatabase, outcomes: [Result<HealthCheck.Probe, HealthCheck.ProbeError>],
                                maxLagMs: Double, now: NIODeadline, wallClock: Double) -> (DiscoveredDatabase, [Event]) {
        precondition(outcomes.count == previous.members.count, "one outcome per member")
        var next = previous
        var events: [Event] = []
        let primaries = outcomes.indices.filter { (try? outcomes[$0].get())?.inRecovery == false }
        let primaryPosition = primaries.count == 1 ? (try? outcomes[primaries[0]].get())?.currentPosition : nil

        for index in previous.members.indices {
            var member = previous.members[index]
            let shown: BackendRole? = (try? outcomes[index].get()).map { $0.inRecovery ? .replica : .primary }
            if let shown, shown != member.id.role || member.roleChangedAt == nil {
                if member.inRecovery != nil, shown != member.id.role {
                    events.append(.roleChanged(member.id.address, from: member.id.role, to: shown))
                }
                member.id.role = shown
                member.roleChangedAt = wallClock
            }
            member = HealthCheck.evaluate(previous: member, outcome: outcomes[index], primaryPosition: primaryPosition,
                                          maxLagMs: maxLagMs, now: now)
            next.members[index] = member
        }

        switch primaries.count {
        case 1:
            let address = previous.members[primaries[0]].id.address
            next.verdict = .primary(address)
            if previous.lastPrimary != address {
                if let old = previous.lastPrimary {
                    events.append(.failover(from: old, to: address))
                    next.failovers += 1
                } else {
                    events.append(.primaryFound(address))
                }
                next.lastPrimary = address
                next.primaryChangedAt = wallClock
            }
        case 0:
            let reason = noPrimaryReason(previous: previous, outcomes: outcomes)
            next.verdict = .none(reason: reason)
            if previous.verdict.primary != nil { events.append(.primaryLost(reason: reason)) }
        default:
            let addresses = primaries.map { previous.members[$0].id.address }
            next.verdict = .splitBrain(addresses)
            let message = PrimaryVerdict.splitBrainMessage(database: previous.database, primaries: addresses)
            for index in primaries {
                next.members[index].status = .splitBrain
                next.members[index].lastError = message
            }
            if previous.verdict != .splitBrain(addresses) { events.append(.splitBrain(addresses)) }
        }
        return (next, events)
    }

    /// Why a round found no primary, naming the server that was the primary when there was one.
    private static func noPrimaryReason(previous: DiscoveredDatabase,
                                        outcomes: [Result<HealthCheck.Probe, HealthCheck.ProbeError>]) -> String {
        if let last = previous.lastPrimary, let index = previous.members.firstIndex(where: { $0.id.address == last }) {
            switch outcomes[index] {
            case .failure(let error):
                return "no primary: \(last) (the primary) failed its check: \(error.description)"
            case .success:
                return "no primary: \(last) (the primary) is in recovery and no other server is a primary"
            }
        }
        if outcomes.allSatisfy({ if case .failure = $0 { return true } else { return false } }) {
            return "no primary: no server answered its check"
        }
        return "no primary: every server that answered is in recovery"
    }
}
