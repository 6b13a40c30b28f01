import NIOCore
import PGRelayCore

/// One backend a database routes to, in one role, with the pools that connect to it and what the
/// replica health checks last said: the rows of SHOW ROUTES and the `backends` of /health.
struct BackendRoute {
    var database: String
    var address: BackendAddress
    var role: BackendRole
    var pools: [ServerPool]
    /// The health checker's view; nil for backends it does not check (databases without replicas).
    var checked: BackendState?

    var id: BackendID { BackendID(database: database, address: address, role: role) }

    /// Down when its health check failed; without checks, down when its last login failed and no
    /// server to it is open. A backend nobody has used or checked yet counts as up.
    var isUp: Bool {
        if let checked, checked.status != .unknown { return checked.status != .down }
        return pools.isEmpty || pools.contains { !$0.lastLoginFailed || !$0.serverStates().isEmpty }
    }

    /// Why a checked backend is not healthy (its check's last error); nil when it is.
    var reason: String? {
        guard let checked, checked.status != .up, checked.status != .unknown else { return nil }
        return checked.lastError
    }

    /// `hosts=` servers: when the checks first found it in its present role (seconds since 1970).
    var roleChangedAt: Double? { checked?.roleChangedAt }

    /// Replication lag of a checked replica; nil otherwise.
    var lagMs: Double? {
        guard role == .replica, let checked, checked.inRecovery != nil else { return nil }
        return checked.lagMs
    }
}

extension ProxyRuntime {
    /// Primary and replicas of each configured database (and of each database served through
    /// `*` that has a pool), in database order.
    func backendRoutes() -> [BackendRoute] {
        let config = self.config
        let pools = allPools()
        let routing = self.routing.snapshot
        var names = config.databases.filter { !$0.isFallback }.map(\.name)
        for pool in pools where !names.contains(pool.key.database) { names.append(pool.key.database) }
        var routes: [BackendRoute] = []
        for name in names {
            guard let entry = config.database(named: name), let primary = entry.hosts.first else { continue }
            let mine = pools.filter { $0.key.database == name }
            if entry.discoversPrimary, let discovery = routing.databases[entry.name]?.discovery {
                routes += discoveredRoutes(name, discovery, pools: mine)
                continue
            }
            var backends = [(primary, BackendRole.primary)] + entry.replicas.map { ($0, BackendRole.replica) }
            // Pools left on an address a reload removed still hold servers: show them too.
            for pool in mine where !backends.contains(where: { $0.0 == pool.key.address }) {
                backends.append((pool.key.address, .primary))
            }
            for (address, role) in backends {
                let id = BackendID(database: entry.isFallback ? "*" : name, address: address, role: role)
                routes.append(BackendRoute(database: name, address: address, role: role,
                                           pools: mine.filter { $0.key.address == address }, checked: routing.health(of: id)))
            }
        }
        return routes
    }

    /// A `hosts=` database: every listed server in the role it last showed. The primary's pools
    /// belong to the server that takes the writes now; a replica's pool to its own server.
    private func discoveredRoutes(_ name: String, _ discovery: DiscoveredDatabase, pools: [ServerPool]) -> [BackendRoute] {
        discovery.members.map { member in
            let address = member.id.address
            let serving = pools.filter { $0.key.replica ? $0.key.address == address : discovery.verdict.primary == address }
            var route = BackendRoute(database: name, address: address, role: member.id.role, pools: serving, checked: member)
            // A primary that is not the elected one takes no writes: not up, whatever its check said.
            if member.id.role == .primary, discovery.verdict.primary != address, member.status == .up {
                route.checked?.status = .down
                route.checked?.lastError = "not the primary writes go to"
            }
            return route
        }
    }

    /// The `backends` of /health and SHOW HEALTH.
    func backendHealth() -> [BackendHealth] {
        backendRoutes().map {
            BackendHealth(database: $0.database, host: $0.address.host, port: $0.address.port, role: $0.role.rawValue,
                          up: $0.isUp, lagMs: $0.lagMs, reason: $0.reason, roleChangedAt: $0.roleChangedAt)
        }
    }
}
