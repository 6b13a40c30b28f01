import Foundation
import NIOCore

/// The router's shared view of backend health, plus its counters. Thread-safe.
///
/// The health checker writes whole snapshots; the hot path (``chooseReplica(database:now:outstanding:)``)
/// takes the current snapshot and a round-robin ticket in one short critical section and chooses
/// outside the lock. Bans belong to the router: a health update keeps a backend's ban.
public final class BackendRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var current: RoutingSnapshot
    private var tickets: [String: UInt64] = [:]
    private var counts = RoutingCounters()

    /// An empty registry: no database has replicas until ``configure(_:maxLagMs:)``.
    public init(maxLagMs: Double = 0) {
        current = RoutingSnapshot(maxLagMs: maxLagMs)
    }

    /// The current snapshot: one reference copied under the lock.
    public var snapshot: RoutingSnapshot { locked { current } }

    /// Counters since start.
    public var counters: RoutingCounters { locked { counts } }

    /// Sets the databases and backends to track (at start and on reload). Backends already known
    /// keep their health; new ones start `unknown` (no reads until their first check passes);
    /// backends no longer configured are dropped.
    public func configure(_ topology: [BackendTopology], maxLagMs: Double) {
        locked {
            var databases: [String: DatabaseBackends] = [:]
            for entry in topology {
                let old = current.databases[entry.database]
                if !entry.discovered.isEmpty {
                    let discovery = old?.discovery?.relisted(entry.discovered)
                        ?? DiscoveredDatabase(database: entry.database, hosts: entry.discovered)
                    databases[entry.database] = DatabaseBackends(discovery: discovery)
                    continue
                }
                func carried(_ address: BackendAddress, _ role: BackendRole) -> BackendState {
                    let id = BackendID(database: entry.database, address: address, role: role)
                    return (old?.all.first { $0.id == id }) ?? BackendState(id: id)
                }
                databases[entry.database] = DatabaseBackends(
                    primary: carried(entry.primary, .primary),
                    replicas: entry.replicas.map { carried($0, .replica) })
            }
            current = RoutingSnapshot(databases: databases, maxLagMs: maxLagMs)
            tickets = tickets.filter { databases[$0.key] != nil }
        }
    }

    /// Records the outcome of checks. Health of backends the registry does not track (removed by
    /// a reload while the check ran) is ignored; a backend's ban is kept.
    public func update(_ results: [BackendState]) {
        guard !results.isEmpty else { return }
        locked {
            var databases = current.databases
            for result in results {
                guard var backends = databases[result.id.database] else { continue }
                switch result.id.role {
                case .primary:
                    guard backends.primary.id == result.id else { continue }
                    var merged = result
                    merged.bannedUntil = backends.primary.bannedUntil
                    backends.primary = merged
                case .replica:
                    guard let index = backends.replicas.firstIndex(where: { $0.id == result.id }) else { continue }
                    var merged = result
                    merged.bannedUntil = backends.replicas[index].bannedUntil
                    backends.replicas[index] = merged
                }
                databases[result.id.database] = backends
            }
            current = RoutingSnapshot(databases: databases, maxLagMs: current.maxLagMs)
        }
    }

    /// The replica for a read of `database` (or of the `*` entry when it has none of its own),
    /// or nil when no replica is healthy: the read then goes to the primary, counted as a
    /// fallback of the entry when it has replicas. `outstanding` gives a replica's in-flight query
    /// count; it is called outside the registry's lock, once per replica.
    public func chooseReplica(database: String, now: NIODeadline = .now(),
                              outstanding: (BackendAddress) -> Int) -> BackendState? {
        // Tickets and fallbacks are kept per configured entry, not per requested name: names that
        // reach the `*` entry are the clients' choice and must not grow the registry.
        let picked: (backends: DatabaseBackends, entry: String, ticket: UInt64, maxLagMs: Double)? = locked {
            let entry = current.databases[database] != nil ? database : "*"
            guard let backends = current.databases[entry], !backends.replicas.isEmpty else { return nil }
            let ticket = tickets[entry, default: 0]
            tickets[entry] = ticket &+ 1
            return (backends, entry, ticket, current.maxLagMs)
        }
        guard let picked else { return nil }
        let candidates = picked.backends.replicas.map { ReplicaCandidate(health: $0, outstanding: outstanding($0.id.address)) }
        if let index = ReplicaSelector(maxLagMs: picked.maxLagMs).choose(from: candidates, ticket: picked.ticket, now: now) {
            return candidates[index].health
        }
        locked { counts.fallbacks[picked.entry, default: 0] += 1 }
        return nil
    }

    /// Records a round of a `hosts=` database's election (ignored when a reload removed the
    /// database or made it a configured one meanwhile). Bans are kept.
    public func update(_ discovery: DiscoveredDatabase) {
        locked {
            guard let old = current.databases[discovery.database]?.discovery else { return }
            var merged = discovery
            for index in merged.members.indices {
                let address = merged.members[index].id.address
                merged.members[index].bannedUntil = old.members.first { $0.id.address == address }?.bannedUntil
            }
            var databases = current.databases
            databases[discovery.database] = DatabaseBackends(discovery: merged)
            current = RoutingSnapshot(databases: databases, maxLagMs: current.maxLagMs)
        }
    }

    /// Where writes of a `hosts=` database go; nil for a database whose primary is configured
    /// (or that the registry does not track).
    public func primaryVerdict(database: String) -> PrimaryVerdict? {
        locked { current.databases[database]?.discovery?.verdict }
    }

    /// Keeps reads away from `backend` until `until` (after a read failed there). Counted.
    public func ban(_ backend: BackendID, until: NIODeadline) {
        locked {
            guard var backends = current.databases[backend.database] else { return }
            if var discovery = backends.discovery {
                guard let index = discovery.members.firstIndex(where: { $0.id == backend }) else { return }
                discovery.members[index].bannedUntil = until
                backends = DatabaseBackends(discovery: discovery)
            } else if backends.primary.id == backend {
                backends.primary.bannedUntil = until
            } else if let index = backends.replicas.firstIndex(where: { $0.id == backend }) {
                backends.replicas[index].bannedUntil = until
            } else {
                return
            }
            var databases = current.databases
            databases[backend.database] = backends
            current = RoutingSnapshot(databases: databases, maxLagMs: current.maxLagMs)
            counts.bans[backend, default: 0] += 1
        }
    }

    /// Counts a statement sent on `route` to `backend`.
    public func recordQuery(route: Route, backend: BackendID) {
        locked {
            counts.queriesPerRoute[route, default: 0] += 1
            counts.queriesPerBackend[backend, default: 0] += 1
        }
    }

    /// Counts a read retried on another backend.
    public func recordRetry(database: String) {
        locked { counts.retries[database, default: 0] += 1 }
    }

    /// NSLock's own `withLock` needs macOS 14; the package supports macOS 13.
    private func locked<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
