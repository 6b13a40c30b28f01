import NIOCore

/// The backends of one database entry: its primary (the first `host=`) and its `replicas=`.
public struct BackendTopology: Sendable, Equatable {
    public var database: String
    public var primary: BackendAddress
    public var replicas: [BackendAddress]

    public init(database: String, primary: BackendAddress, replicas: [BackendAddress]) {
        self.database = database
        self.primary = primary
        self.replicas = replicas
    }

    /// One topology per configured database that has replicas (others need no routing).
    public static func of(_ config: Config) -> [BackendTopology] {
        config.databases.compactMap { entry in
            guard !entry.replicas.isEmpty, let primary = entry.hosts.first else { return nil }
            return BackendTopology(database: entry.name, primary: primary, replicas: entry.replicas)
        }
    }
}

/// Health of the backends of one database entry.
public struct DatabaseBackends: Sendable, Equatable {
    public var primary: BackendState
    public var replicas: [BackendState]

    public init(primary: BackendState, replicas: [BackendState]) {
        self.primary = primary
        self.replicas = replicas
    }

    /// Every backend, primary first.
    public var all: [BackendState] { [primary] + replicas }
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
                case .primary: up = state.status == .up
                case .replica: up = state.canServeReads(maxLagMs: maxLagMs, now: now)
                }
                let lag: Double? = state.id.role == .replica && state.inRecovery == true && state.lagMs.isFinite ? state.lagMs : nil
                return BackendHealth(database: name, host: state.id.address.host, port: state.id.address.port,
                                     role: state.id.role.rawValue, up: up, lagMs: lag, reason: up ? nil : state.lastError)
            }
        }
    }
}
