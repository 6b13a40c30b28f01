import NIOCore

/// The backends of one database entry: its primary (the first `host=`) and its `replicas=`, or
/// with `hosts=` its servers, the primary among them to be found.
public struct BackendTopology: Sendable, Equatable {
    public var database: String
    public var primary: BackendAddress
    public var replicas: [BackendAddress]
    /// `hosts=`: every server; empty for a configured primary.
    public var discovered: [BackendAddress]

    public init(database: String, primary: BackendAddress, replicas: [BackendAddress], discovered: [BackendAddress] = []) {
        self.database = database
        self.primary = primary
        self.replicas = replicas
        self.discovered = discovered
    }

    /// One topology per configured database that has replicas or a `hosts=` list (others need no
    /// routing).
    public static func of(_ config: Config) -> [BackendTopology] {
        config.databases.compactMap { entry in
            guard entry.needsHealthChecks, let primary = entry.hosts.first else { return nil }
            if entry.discoversPrimary {
                return BackendTopology(database: entry.name, primary: primary, replicas: [], discovered: entry.hosts)
            }
            return BackendTopology(database: entry.name, primary: primary, replicas: entry.replicas)
        }
    }
}

/// Health of the backends of one database entry.
public struct DatabaseBackends: Sendable, Equatable {
    /// Where writes go. For a `hosts=` database without one primary: a stand-in for the last
    /// primary (or the first server), down or split_brain, with the reason.
    public var primary: BackendState
    /// The servers that may take reads (for `hosts=`: those last seen in recovery).
    public var replicas: [BackendState]
    /// `hosts=` databases: the election's state, which `primary` and `replicas` are views of.
    public private(set) var discovery: DiscoveredDatabase?

    public init(primary: BackendState, replicas: [BackendState]) {
        self.primary = primary
        self.replicas = replicas
        self.discovery = nil
    }

    /// The backends of a `hosts=` database as its election stands.
    public init(discovery: DiscoveredDatabase) {
        self.discovery = discovery
        let elected = discovery.verdict.primary.flatMap { address in discovery.members.first { $0.id.address == address } }
        if let elected {
            primary = elected
        } else {
            let address = discovery.lastPrimary ?? discovery.members.first?.id.address ?? BackendAddress(host: "", port: 0)
            var standIn = BackendState(id: BackendID(database: discovery.database, address: address, role: .primary))
            switch discovery.verdict {
            case .splitBrain(let addresses):
                standIn.status = .splitBrain
                standIn.lastError = PrimaryVerdict.splitBrainMessage(database: discovery.database, primaries: addresses)
            case .none(let reason):
                standIn.status = discovery.members.allSatisfy({ $0.status == .unknown }) ? .unknown : .down
                standIn.lastError = reason
            case .primary:
                standIn.status = .down
            }
            primary = standIn
        }
        replicas = discovery.members.filter { $0.id.role == .replica }
    }

    /// Every backend, primary first; for `hosts=` every listed server, in list order.
    public var all: [BackendState] { discovery?.members ?? [primary] + replicas }
}

/// An immutable picture of all backends' health, replaced as a whole on every update.
public struct RoutingSnapshot: Sendable, Equatable {
    /// Keyed by `[databases]` entry name.
    public var databases: [String: DatabaseBackends]
    /// `replica_max_lag_ms` in force when the snapshot was made.
    public var maxLagMs: Double

    public init(databases: [String: DatabaseBackends] = [:], maxLagMs: Double = 0) {
        self.databases = databases
        self.maxLagMs = maxLagMs
    }

    /// The backends serving `database`: its own entry, else the `*` fallback entry's.
    public func backends(for database: String) -> DatabaseBackends? {
        databases[database] ?? databases["*"]
    }

    /// The health of one backend, if the snapshot knows it.
    public func health(of id: BackendID) -> BackendState? {
        guard let backends = databases[id.database] else { return nil }
        if backends.discovery != nil { return backends.all.first { $0.id == id } }
        switch id.role {
        case .primary: return backends.primary.id == id ? backends.primary : nil
        case .replica: return backends.replicas.first { $0.id == id }
        }
    }
}

extension RoutingSnapshot {
    /// Every backend as `/health` lists it (``BackendHealth``), databases by name, primary first.
    /// Up means "takes traffic for its role": a lagging, promoted or banned replica is not up.
    public func healthEntries(now: NIODeadline = .now()) -> [BackendHealth] {
        databases.keys.sorted().flatMap { name -> [BackendHealth] in
            guard let backends = databases[name] else { return [] }
            return backends.all.map { state in
                let up: Bool
                switch state.id.role {
                case .primary: up = state.status == .up && (backends.discovery == nil || backends.primary.id == state.id)
                case .replica: up = state.canServeReads(maxLagMs: maxLagMs, now: now)
                }
                let lag: Double? = state.id.role == .replica && state.inRecovery == true && state.lagMs.isFinite ? state.lagMs : nil
                return BackendHealth(database: name, host: state.id.address.host, port: state.id.address.port,
                                     role: state.id.role.rawValue, up: up, lagMs: lag, reason: up ? nil : state.lastError)
            }
        }
    }
}
