/// One `[databases]` entry: where clients asking for database `name` are sent, and the pool
/// settings that override the global ones for it. `nil` means "use the global setting".
public struct DatabaseConfig: Sendable, Hashable, CustomStringConvertible {
    /// The database name clients ask for (`*` for the fallback entry).
    public var name: String
    /// Primary candidates, in `host=` order (a comma list rotates per `loadBalanceHosts`).
    /// Without `host=`, the Unix socket in `unix_socket_dir` on `port`.
    public var hosts: [BackendAddress]
    /// `port=` (default 5432), shared by all `hosts`.
    public var port: Int
    /// Read replicas from `replicas=host:port,...` (ours); empty when the database has none.
    public var replicas: [BackendAddress]
    /// `hosts=host:port,...` (ours): every server of the database, none named primary. The health
    /// checker finds the primary among them (``PrimaryDiscovery``) and follows a promotion;
    /// `hosts` then holds the list and `replicas` is empty.
    public var discoversPrimary: Bool = false
    /// `dbname=`: the database on the server; `nil` means the name the client asked for.
    public var dbname: String?
    /// `user=`: log into the server as this user (one pool for the database) instead of the client's.
    public var user: String?
    /// `password=` for `user`; never printed (see `description`).
    public var password: String?
    /// `auth_user=`: overrides the global auth_user for this database.
    public var authUser: String?
    /// `auth_query=`: overrides the global auth_query for this database.
    public var authQuery: String?
    /// `auth_dbname=`: overrides the global auth_dbname for this database.
    public var authDbname: String?
    /// `pool_size=`.
    public var poolSize: Int?
    /// `min_pool_size=`.
    public var minPoolSize: Int?
    /// `reserve_pool_size=` (or its old name `reserve_pool=`).
    public var reservePoolSize: Int?
    /// `max_db_connections=`.
    public var maxDBConnections: Int?
    /// `max_db_client_connections=`.
    public var maxDBClientConnections: Int?
    /// `server_lifetime=` in seconds.
    public var serverLifetime: Double?
    /// `pool_mode=`.
    public var poolMode: PoolMode?
    /// `connect_query=`: run on each new server connection before any client uses it.
    public var connectQuery: String?
    /// `query_rate_limit=` (ours): queries per second of this database, all users together.
    public var queryRateLimit: Double?
    /// `query_rate_burst=` (ours): this database's burst above the rate.
    public var queryRateBurst: Int?
    /// `load_balance_hosts=` for `host=` lists.
    public var loadBalanceHosts: LoadBalanceHosts
    /// Parameters sent in the server's startup packet: `client_encoding`, `datestyle`, `timezone`,
    /// `application_name` (keys lower-case, as PostgreSQL names them in the startup packet).
    public var startupParameters: [String: String]

    public init(name: String, hosts: [BackendAddress], port: Int = 5432, replicas: [BackendAddress] = [],
                dbname: String? = nil, user: String? = nil, password: String? = nil,
                authUser: String? = nil, authQuery: String? = nil, authDbname: String? = nil,
                poolSize: Int? = nil, minPoolSize: Int? = nil, reservePoolSize: Int? = nil,
                maxDBConnections: Int? = nil, maxDBClientConnections: Int? = nil, serverLifetime: Double? = nil,
                poolMode: PoolMode? = nil, connectQuery: String? = nil,
                loadBalanceHosts: LoadBalanceHosts = .roundRobin, startupParameters: [String: String] = [:]) {
        self.name = name
        self.hosts = hosts
        self.port = port
        self.replicas = replicas
        self.dbname = dbname
        self.user = user
        self.password = password
        self.authUser = authUser
        self.authQuery = authQuery
        self.authDbname = authDbname
        self.poolSize = poolSize
        self.minPoolSize = minPoolSize
        self.reservePoolSize = reservePoolSize
        self.maxDBConnections = maxDBConnections
        self.maxDBClientConnections = maxDBClientConnections
        self.serverLifetime = serverLifetime
        self.poolMode = poolMode
        self.connectQuery = connectQuery
        self.loadBalanceHosts = loadBalanceHosts
        self.startupParameters = startupParameters
    }

    /// Whether a server opened for `other` is one this entry would open too: same hosts, port,
    /// server database, login and startup settings. A reload that changes any of these retires the
    /// servers already open (as PgBouncer does), so that no client lands in the old database.
    public func opensSameServers(as other: DatabaseConfig) -> Bool {
        hosts == other.hosts && discoversPrimary == other.discoversPrimary && port == other.port
            && dbname == other.dbname && user == other.user
            && password == other.password && connectQuery == other.connectQuery
            && startupParameters == other.startupParameters
    }

    /// Whether the health checker watches this entry's servers: it has replicas, or a primary
    /// to find among `hosts=`.
    public var needsHealthChecks: Bool { discoversPrimary || !replicas.isEmpty }

    /// True for the `*` entry that serves database names without an entry of their own.
    public var isFallback: Bool { name == "*" }

    /// The database to ask the server for when a client asked for `requested`.
    public func serverDatabaseName(forRequested requested: String) -> String {
        dbname ?? requested
    }

    /// The entry as a connection string with the password masked, for SHOW DATABASES-like output.
    public var description: String {
        var parts = ["\(name) =", discoversPrimary ? "hosts=" + hosts.map(\.description).joined(separator: ",")
                                                   : "host=" + hosts.map(\.host).joined(separator: ","), "port=\(port)"]
        if let dbname { parts.append("dbname=\(dbname)") }
        if let user { parts.append("user=\(user)") }
        if password != nil { parts.append("password=***") }
        if !replicas.isEmpty { parts.append("replicas=" + replicas.map(\.description).joined(separator: ",")) }
        if let poolSize { parts.append("pool_size=\(poolSize)") }
        if let poolMode { parts.append("pool_mode=\(poolMode.configName)") }
        return parts.joined(separator: " ")
    }
}

extension DatabaseConfig {
    /// Database options, as PgBouncer 1.25 knows them, plus `replicas`.
    static let optionNames: [String] = [
        "dbname", "host", "port", "user", "password", "auth_user", "auth_query", "auth_dbname",
        "pool_size", "min_pool_size", "reserve_pool", "reserve_pool_size", "max_db_connections",
        "max_db_client_connections", "server_lifetime", "pool_mode", "connect_query", "load_balance_hosts",
        "client_encoding", "datestyle", "timezone", "application_name", "replicas", "hosts",
        "query_rate_limit", "query_rate_burst",
    ]

    /// Builds an entry from its connection string. `unixSocketDir` is where a database without
    /// `host=` connects; `nil` or empty means there is no Unix socket and `host=` is required.
    static func parse(name: String, connectionString: String, unixSocketDir: String?) throws -> DatabaseConfig {
        var entry = DatabaseConfig(name: name, hosts: [])
        var hostText: String?
        var replicaText: String?
        var memberText: String?
        for pair in try ConnectionString.parse(connectionString) {
            let option = pair.key.lowercased()
            do {
                if option == "hosts" {
                    memberText = pair.value
                    continue
                }
                try entry.apply(option: option, value: pair.value, hostText: &hostText, replicaText: &replicaText)
            } catch let problem as ConfigValueProblem {
                throw ConfigValueProblem("\(option): \(problem.message)")
            }
        }
        if let memberText {
            // One list of every server, or host= with replicas=: mixing them would leave it open
            // which one is meant to take the writes.
            guard hostText == nil, replicaText == nil else {
                throw ConfigValueProblem("hosts= lists every server of the database; it cannot be combined with host= or replicas=")
            }
            do {
                entry.hosts = try BackendAddress.parseList(memberText, defaultPort: entry.port)
            } catch let problem as ConfigValueProblem {
                throw ConfigValueProblem("hosts: \(problem.message)")
            }
            guard Set(entry.hosts).count == entry.hosts.count else {
                throw ConfigValueProblem("hosts: a server is listed twice")
            }
            entry.discoversPrimary = true
            return entry
        }
        if let hostText {
            entry.hosts = try BackendAddress.parseHostList(hostText, port: entry.port)
        } else if let unixSocketDir, !unixSocketDir.isEmpty {
            entry.hosts = [BackendAddress(host: unixSocketDir, port: entry.port)]
        } else {
            throw ConfigValueProblem("no host= and unix_socket_dir is empty, so there is nowhere to connect")
        }
        if let replicaText {
            do {
                entry.replicas = try BackendAddress.parseList(replicaText, defaultPort: entry.port)
            } catch let problem as ConfigValueProblem {
                throw ConfigValueProblem("replicas: \(problem.message)")
            }
        }
        return entry
    }

    private mutating func apply(option: String, value: String, hostText: inout String?, replicaText: inout String?) throws {
        let count = 0...Int(Int32.max)
        switch option {
        case "dbname": dbname = value
        case "host": hostText = value
        case "port": port = try ConfigValueParser.integer(value, in: 1...65535)
        case "user": user = value
        case "password": password = value
        case "auth_user": authUser = value
        case "auth_query": authQuery = value
        case "auth_dbname":
            // Even the console's reserved name is accepted (with a warning at load, see
            // `authDatabaseWarnings`): as in PgBouncer, logins that need it are refused.
            authDbname = value
        case "pool_size": poolSize = try ConfigValueParser.integer(value, in: count)
        case "min_pool_size": minPoolSize = try ConfigValueParser.integer(value, in: count)
        case "reserve_pool", "reserve_pool_size": reservePoolSize = try ConfigValueParser.integer(value, in: count)
        case "max_db_connections": maxDBConnections = try ConfigValueParser.integer(value, in: count)
        case "max_db_client_connections": maxDBClientConnections = try ConfigValueParser.integer(value, in: count)
        case "server_lifetime": serverLifetime = try ConfigValueParser.seconds(value)
        case "pool_mode": poolMode = try ConfigValueParser.choice(value, as: PoolMode.self)
        case "connect_query": connectQuery = value
        case "load_balance_hosts": loadBalanceHosts = try ConfigValueParser.choice(value, as: LoadBalanceHosts.self)
        case "client_encoding", "datestyle", "timezone", "application_name": startupParameters[option] = value
        case "replicas": replicaText = value
        case "query_rate_limit": queryRateLimit = try ConfigValueParser.decimal(value, in: 0...1_000_000_000)
        case "query_rate_burst": queryRateBurst = try ConfigValueParser.integer(value, in: 0...1_000_000)
        default:
            throw ConfigUnknownOption(option: option, known: Self.optionNames)
        }
    }
}

/// Database names that belong to the admin console and cannot appear in `[databases]`.
public enum ReservedDatabaseNames {
    public static let all: Set<String> = ["pgbouncer", "pgrelay"]

    public static func contains(_ name: String) -> Bool { all.contains(name) }
}

/// An option name not valid in a `[databases]` or `[users]` entry (an error there, as in PgBouncer).
struct ConfigUnknownOption: Error {
    var option: String
    var known: [String]

    var message: String {
        "unknown option \"\(option.prefix(60))\" (known: \(known.joined(separator: ", ")))"
    }
}
