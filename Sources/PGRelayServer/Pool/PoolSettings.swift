import PGRelayCore

/// The part of the configuration one pool needs, resolved from the global keys, the database
/// entry and the [users] entry (most specific wins, as in PgBouncer).
struct PoolSettings: Sendable {
    var size: Int
    var minSize: Int
    var reserveSize: Int
    var reserveTimeout: Double
    var mode: PoolMode
    var serverDatabase: String
    var resetQuery: String
    var resetQueryAlways: Bool
    var checkQuery: String
    var checkDelay: Double
    var idleTimeout: Double
    var lifetime: Double
    var connectTimeout: Double
    var queryWaitTimeout: Double
    var connectQuery: String?
    var startupParameters: [String: String]
    /// server_round_robin: idle servers are lent oldest first (FIFO) instead of newest first.
    var roundRobin: Bool
    /// server_login_retry: seconds between connection attempts after one failed.
    var loginRetry: Double
    /// query_wait_notify: seconds after which a queued client gets a notice; 0 = never.
    var queryWaitNotify: Double
    /// TCP options of the sockets to servers.
    var tcp: TCPSocketSettings

    init(config: Config, entry: DatabaseConfig, user: String) {
        let userConfig = config.user(named: user)
        size = userConfig?.poolSize ?? entry.poolSize ?? config.defaultPoolSize
        minSize = entry.minPoolSize ?? config.minPoolSize
        reserveSize = entry.reservePoolSize ?? config.reservePoolSize
        reserveTimeout = config.reservePoolTimeout
        mode = userConfig?.poolMode ?? entry.poolMode ?? config.poolMode
        serverDatabase = entry.dbname ?? entry.name
        resetQuery = config.serverResetQuery
        resetQueryAlways = config.serverResetQueryAlways
        checkQuery = config.serverCheckQuery
        checkDelay = config.serverCheckDelay
        idleTimeout = config.serverIdleTimeout
        lifetime = config.serverLifetime
        connectTimeout = config.serverConnectTimeout
        queryWaitTimeout = config.queryWaitTimeout
        connectQuery = entry.connectQuery
        startupParameters = entry.startupParameters
        roundRobin = config.serverRoundRobin
        loginRetry = config.serverLoginRetry
        queryWaitNotify = config.queryWaitNotify
        tcp = TCPSocketSettings(config: config)
    }
}
