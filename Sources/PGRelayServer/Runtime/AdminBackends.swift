import NIOCore
import PGRelayCore

/// One backend a database routes to, in one role, with the pools that connect to it: the rows of
/// SHOW ROUTES and the `backends` of /health. Until read/write splitting lands every backend is a
/// primary; replicas will add rows with role "replica" and their own pools.
struct BackendRoute {
    var database: String
    var address: BackendAddress
    var role: QueryRoute
    var pools: [ServerPool]

    /// Up unless its last login failed and no server to it is open; a backend no client has asked
    /// for yet counts as up (nothing says otherwise).
    var isUp: Bool {
        pools.isEmpty || pools.contains { !$0.lastLoginFailed || !$0.serverStates().isEmpty }
    }
}

extension ProxyRuntime {
    /// Backends per configured database (and per database served through `*` that has a pool),
    /// in database order.
    func backendRoutes() -> [BackendRoute] {
        let config = self.config
        let pools = allPools()
        var names = config.databases.filter { !$0.isFallback }.map(\.name)
        for pool in pools where !names.contains(pool.key.database) { names.append(pool.key.database) }
        var routes: [BackendRoute] = []
        for name in names {
            let mine = pools.filter { $0.key.database == name }
            var addresses = mine.map(\.key.address)
            if let configured = config.database(named: name)?.hosts.first, !addresses.contains(configured) {
                addresses.insert(configured, at: 0)
            }
            var seen = Set<BackendAddress>()
            for address in addresses where seen.insert(address).inserted {
                routes.append(BackendRoute(database: name, address: address, role: .primary,
                                           pools: mine.filter { $0.key.address == address }))
            }
        }
        return routes
    }

    /// The `backends` of /health and SHOW HEALTH.
    func backendHealth() -> [BackendHealth] {
        backendRoutes().map {
            BackendHealth(database: $0.database, host: $0.address.host, port: $0.address.port, role: $0.role.rawValue, up: $0.isUp)
        }
    }
}
