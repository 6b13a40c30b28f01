import Foundation
import NIOCore
import PGRelayCore

/// The SHOW tables of the console, with PgBouncer 1.25.2's column names, order and types (its
/// src/admin.c and src/stats.c); columns of ours come after PgBouncer's.
enum ConsoleTables {
    /// The table `SHOW name` shows; `views` are the live clients and servers (`AdminViews.empty`
    /// when only the columns are wanted).
    static func table(named name: String, runtime: ProxyRuntime, views: AdminViews) throws -> ConsoleTable {
        switch name {
        case "VERSION": return version()
        case "POOLS": return pools(runtime, views)
        case "SERVERS": return servers(views, routing: runtime.routing.snapshot)
        case "CLIENTS": return clients(runtime, views)
        case "DATABASES": return databases(runtime, views)
        case "USERS": return users(runtime, views)
        case "CONFIG": return config(runtime.config)
        case "LISTS": return lists(runtime, views)
        case "MEM": return mem()
        case "STATE": return state(runtime)
        case "FDS": return fds()
        case "STATS": return stats(runtime)
        case "STATS_TOTALS": return statsTotals(runtime)
        case "STATS_AVERAGES": return statsAverages(runtime)
        case "TOTALS": return totals(runtime)
        case "SOCKETS": return sockets(runtime, views)
        case "ACTIVE_SOCKETS": return activeSockets()
        case "DNS_HOSTS": return dnsHosts()
        case "DNS_ZONES": return dnsZones()
        case "PEERS": return peers()
        case "PEER_POOLS": return peerPools()
        case "QUERIES": return queries(runtime.stats.snapshot())
        case "HEALTH": return health(runtime.stats.snapshot(), backends: runtime.backendHealth())
        case "ROUTES": return routes(runtime)
        case "RATE_LIMITS": return rateLimits(runtime.rateLimits.allBuckets)
        default:
            throw ConsoleError.syntax("unknown SHOW command: \(name)")
        }
    }

    static func version() -> ConsoleTable {
        var table = ConsoleTable([("version", .text)])
        table.add([PGRelayVersion.line])
        return table
    }

    static func databases(_ runtime: ProxyRuntime, _ views: AdminViews) -> ConsoleTable {
        var table = ConsoleTable([
            ("name", .text), ("host", .text), ("port", .int4), ("database", .text), ("force_user", .text),
            ("pool_size", .int4), ("min_pool_size", .int4), ("reserve_pool_size", .int4), ("server_lifetime", .int4),
            ("pool_mode", .text), ("load_balance_hosts", .text), ("max_connections", .int4), ("current_connections", .int4),
            ("max_client_connections", .int4), ("current_client_connections", .int4), ("paused", .int4), ("disabled", .int4),
            ("reserve_pool", .int4), ("primary_changed_at", .text), ("failovers", .numeric),
        ])
        let config = runtime.config
        let routing = runtime.routing.snapshot
        let serverCounts = runtime.slots.withLockedValue { $0.perDatabase }
        // Clients counted against max_db_client_connections (logged in, console included).
        let clientCounts = runtime.clientLimits.perDatabase
        var names = config.databases.filter { !$0.isFallback }.map(\.name)
        // Databases served through the `*` fallback appear once they have a pool, as in PgBouncer.
        for pool in runtime.allPools() where !names.contains(pool.key.database) { names.append(pool.key.database) }
        for name in names {
            guard let entry = config.database(named: name) else { continue }
            let resolved = config.poolSettings(database: entry, user: entry.user ?? "")
            let reserve = entry.reservePoolSize ?? config.reservePoolSize
            // hosts=: the server writes go to now (none while there is no single primary).
            let discovery = entry.discoversPrimary ? routing.databases[entry.name]?.discovery : nil
            let host = discovery.map { $0.verdict.primary?.host } ?? entry.hosts.map(\.host).joined(separator: ",")
            let port = discovery.map { $0.verdict.primary?.port ?? entry.port } ?? entry.port
            table.add([
                name, host, "\(port)", entry.serverDatabaseName(forRequested: name),
                entry.user, "\(entry.poolSize ?? config.defaultPoolSize)", "\(entry.minPoolSize ?? config.minPoolSize)", "\(reserve)",
                "\(Int(entry.serverLifetime ?? config.serverLifetime))", entry.poolMode?.rawValue,
                entry.hosts.count > 1 ? entry.loadBalanceHosts.rawValue : nil,
                "\(resolved.maxDBConnections)", "\(serverCounts[name] ?? 0)",
                "\(resolved.maxDBClientConnections)", "\(clientCounts[name] ?? 0)",
                runtime.isPausedByName(database: name) ? "1" : "0", runtime.isDisabled(database: name) ? "1" : "0", "\(reserve)",
                discovery?.primaryChangedAt.map { timestamp(Date(timeIntervalSince1970: $0)) }, discovery.map { "\($0.failovers)" },
            ])
        }
        table.add(adminDatabaseRow(config, consoleClients: AdminConsoleSession.databaseNames.reduce(0) { $0 + (clientCounts[$1] ?? 0) }))
        return table
    }

    /// PgBouncer lists its console as database `pgbouncer` (no host, the listen port, forced user
    /// pgbouncer, pool size 2, statement mode); tools that skip that row by name keep working.
    private static func adminDatabaseRow(_ config: Config, consoleClients: Int) -> [String?] {
        [
            "pgbouncer", nil, "\(config.listenPort)", "pgbouncer", "pgbouncer", "2", "0", "0", "\(Int(config.serverLifetime))",
            "statement", nil, "0", "0", "\(config.maxDBClientConnections)", "\(consoleClients)", "0", "0", "0", nil, nil,
        ]
    }

    static func users(_ runtime: ProxyRuntime, _ views: AdminViews) -> ConsoleTable {
        var table = ConsoleTable([
            ("name", .text), ("pool_size", .text), ("reserve_pool_size", .text), ("pool_mode", .text),
            ("max_user_connections", .int4), ("current_connections", .int4), ("max_user_client_connections", .int4),
            ("current_client_connections", .int4),
        ])
        let config = runtime.config
        let serverCounts = runtime.slots.withLockedValue { $0.perUser }
        // Clients counted against max_user_client_connections (logged in, console included).
        let clientCounts = runtime.clientLimits.perUser
        for name in runtime.knownUserNames {
            let user = config.user(named: name)
            table.add([
                name, user?.poolSize.map { "\($0)" } ?? "", user?.reservePoolSize.map { "\($0)" } ?? "", user?.poolMode?.rawValue,
                "\(Self.positive(user?.maxUserConnections) ?? config.maxUserConnections)", "\(serverCounts[name] ?? 0)",
                "\(Self.positive(user?.maxUserClientConnections) ?? config.maxUserClientConnections)", "\(clientCounts[name] ?? 0)",
            ])
        }
        return table
    }

    /// A per-user limit of 0 means "not set" (the global value applies), as in PgBouncer.
    private static func positive(_ value: Int?) -> Int? {
        guard let value, value > 0 else { return nil }
        return value
    }

    /// Every setting with secrets masked (the same rows as GET /config).
    static func config(_ config: Config) -> ConsoleTable {
        var table = ConsoleTable([("key", .text), ("value", .text), ("default", .text), ("changeable", .text)])
        for row in config.settingRows() {
            table.add([row.key, row.value, row.defaultValue, row.changeable ? "yes" : "no"])
        }
        return table
    }

    static func lists(_ runtime: ProxyRuntime, _ views: AdminViews) -> ConsoleTable {
        var table = ConsoleTable([("list", .text), ("items", .int4)])
        let clients = views.clients
        let pools = runtime.allPools()
        let databases = Set(runtime.config.databases.filter { !$0.isFallback }.map(\.name)).union(pools.map(\.key.database))
        let servers = pools.reduce(0) { $0 + $1.serverStates().count }
        let items: [(String, Int)] = [
            ("databases", databases.count + 1 /* the console's, as in SHOW DATABASES */), ("users", runtime.knownUserNames.count), ("peers", 0), ("pools", pools.count),
            ("peer_pools", 0), ("free_clients", 0), ("used_clients", clients.count),
            ("login_clients", clients.filter { $0.state == "login" }.count), ("free_servers", 0),
            ("used_servers", servers), ("dns_names", 0), ("dns_zones", 0), ("dns_queries", 0), ("dns_pending", 0),
        ]
        for (name, count) in items { table.add([name, "\(count)"]) }
        return table
    }

    /// PgBouncer lists its slab allocators here; pgrelay has none, so the table is empty.
    static func mem() -> ConsoleTable {
        ConsoleTable([("name", .text), ("size", .int4), ("used", .int4), ("free", .int4), ("memtotal", .int4)])
    }

    /// PgBouncer's own DNS cache; pgrelay resolves through the system resolver on each connect
    /// and caches nothing, so the table is empty.
    static func dnsHosts() -> ConsoleTable {
        ConsoleTable([("hostname", .text), ("ttl", .int8), ("addrs", .text)])
    }

    /// The zones of PgBouncer's DNS cache (empty here, see `dnsHosts`).
    static func dnsZones() -> ConsoleTable {
        ConsoleTable([("zonename", .text), ("serial", .int8), ("count", .int4)])
    }

    /// PgBouncer's `[peers]` (cancel requests forwarded between processes); pgrelay runs as one
    /// process and has no peers, so the table is empty.
    static func peers() -> ConsoleTable {
        ConsoleTable([("peer_id", .int4), ("host", .text), ("port", .int4), ("pool_size", .int4)])
    }

    /// The pools towards PgBouncer's peers (empty here, see `peers`).
    static func peerPools() -> ConsoleTable {
        ConsoleTable([
            ("peer_id", .int4), ("cl_active_cancel_req", .int4), ("cl_waiting_cancel_req", .int4),
            ("sv_active_cancel", .int4), ("sv_login", .int4),
        ])
    }

    static func state(_ runtime: ProxyRuntime) -> ConsoleTable {
        var table = ConsoleTable([("key", .text), ("value", .text)])
        let paused = runtime.isPausedAll
        table.add(["active", paused ? "no" : "yes"])
        table.add(["paused", paused ? "yes" : "no"])
        table.add(["suspended", "no"])
        return table
    }

    /// Only meaningful for PgBouncer's online restart (passing sockets on); empty here.
    static func fds() -> ConsoleTable {
        ConsoleTable([
            ("fd", .int4), ("task", .text), ("user", .text), ("database", .text), ("addr", .text), ("port", .int4),
            ("cancel", .int8), ("link", .int4), ("client_encoding", .text), ("std_strings", .text), ("datestyle", .text),
            ("timezone", .text), ("password", .text), ("scram_client_key", .bytea), ("scram_server_key", .bytea),
        ])
    }
}

/// Version strings shared by `--version`, SHOW VERSION and the console's server_version.
public enum PGRelayVersion {
    public static let version = "0.1.0"
    public static let line = "pgrelay \(version)"
    static let serverVersion = "1.25.2/pgrelay \(version)"
}
