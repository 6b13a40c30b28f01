import PGWire

/// Everything that applies to one pool (a `[databases]` entry and a user), resolved with
/// PgBouncer's precedence: the `[users]` entry, then the `[databases]` entry, then the global key.
/// As in PgBouncer, a per-database or per-user limit or timeout of 0 means "not set". The pools,
/// their server connections and the client limits all read this one value.
public struct PoolSettings: Sendable, Hashable {
    public var poolMode: PoolMode
    public var poolSize: Int
    public var minPoolSize: Int
    public var reservePoolSize: Int
    public var reservePoolTimeout: Double
    /// Server connections of the whole database; 0 = unlimited.
    public var maxDBConnections: Int
    /// Client connections of the whole database; 0 = unlimited.
    public var maxDBClientConnections: Int
    /// Server connections of the user over all databases; 0 = unlimited.
    public var maxUserConnections: Int
    /// Client connections of the user; 0 = unlimited.
    public var maxUserClientConnections: Int
    public var serverLifetime: Double
    public var serverIdleTimeout: Double
    public var serverConnectTimeout: Double
    public var queryTimeout: Double
    public var queryWaitTimeout: Double
    /// query_wait_notify: seconds after which a queued client gets a notice; 0 = never.
    public var queryWaitNotify: Double
    public var idleTransactionTimeout: Double
    public var transactionTimeout: Double
    public var clientIdleTimeout: Double
    /// The database name sent to the server (`dbname=`, else the entry's name).
    public var serverDatabase: String
    public var resetQuery: String
    public var resetQueryAlways: Bool
    /// server_check_query: empty disables the check, `<empty>` is an empty query.
    public var checkQuery: String
    /// server_check_delay: a server idle (or unchecked) this long is checked before it is lent;
    /// 0 checks it every time.
    public var checkDelay: Double
    /// `connect_query=`: run once on every new server connection.
    public var connectQuery: String?
    /// Startup parameters the entry sets for its servers (client_encoding=, datestyle=, ...).
    public var startupParameters: [String: String]
    /// server_round_robin: idle servers are lent oldest first (FIFO) instead of newest first.
    public var roundRobin: Bool
    /// server_login_retry: seconds between connection attempts after one failed.
    public var loginRetry: Double

    /// The SQL text of the check (`<empty>` is PgBouncer's spelling of an empty query); nil
    /// when servers are not checked.
    public var checkSQL: String? {
        switch checkQuery {
        case "": return nil
        case "<empty>": return ""
        default: return checkQuery
        }
    }
}

extension Config {
    /// Settings of the pool of `database` for `user`: the pool's user, i.e. the database's forced
    /// `user=` when it has one, else the client's login name.
    public func poolSettings(database: DatabaseConfig, user: String) -> PoolSettings {
        let userEntry = self.user(named: user)
        return PoolSettings(
            poolMode: userEntry?.poolMode ?? database.poolMode ?? poolMode,
            poolSize: userEntry?.poolSize ?? database.poolSize ?? defaultPoolSize,
            minPoolSize: database.minPoolSize ?? minPoolSize,
            reservePoolSize: userEntry?.reservePoolSize ?? database.reservePoolSize ?? reservePoolSize,
            reservePoolTimeout: reservePoolTimeout,
            maxDBConnections: Self.positive(database.maxDBConnections) ?? maxDBConnections,
            maxDBClientConnections: Self.positive(database.maxDBClientConnections) ?? maxDBClientConnections,
            maxUserConnections: Self.positive(userEntry?.maxUserConnections) ?? maxUserConnections,
            maxUserClientConnections: Self.positive(userEntry?.maxUserClientConnections) ?? maxUserClientConnections,
            serverLifetime: Self.positive(database.serverLifetime) ?? serverLifetime,
            serverIdleTimeout: serverIdleTimeout,
            serverConnectTimeout: serverConnectTimeout,
            queryTimeout: Self.positive(userEntry?.queryTimeout) ?? queryTimeout,
            queryWaitTimeout: queryWaitTimeout,
            queryWaitNotify: queryWaitNotify,
            idleTransactionTimeout: Self.positive(userEntry?.idleTransactionTimeout) ?? idleTransactionTimeout,
            transactionTimeout: Self.positive(userEntry?.transactionTimeout) ?? transactionTimeout,
            clientIdleTimeout: Self.positive(userEntry?.clientIdleTimeout) ?? clientIdleTimeout,
            serverDatabase: database.dbname ?? database.name,
            resetQuery: serverResetQuery,
            resetQueryAlways: serverResetQueryAlways,
            checkQuery: serverCheckQuery,
            checkDelay: serverCheckDelay,
            connectQuery: database.connectQuery,
            startupParameters: database.startupParameters,
            roundRobin: serverRoundRobin,
            loginRetry: serverLoginRetry)
    }

    /// Message size limits for the wire codec: `max_packet_size` and `max_startup_packet_size`.
    public var protocolLimits: ProtocolLimits {
        ProtocolLimits(maxMessageLength: maxPacketSize, maxStartupPacketLength: maxStartupPacketSize)
    }

    private static func positive<Number: Comparable & ExpressibleByIntegerLiteral>(_ value: Number?) -> Number? {
        guard let value, value > 0 else { return nil }
        return value
    }
}
