/// One `[users]` entry: settings for every pool of one user. `nil` means "use the database's or
/// the global setting".
public struct UserConfig: Sendable, Hashable {
    public var name: String
    /// `pool_mode=`.
    public var poolMode: PoolMode?
    /// `pool_size=`.
    public var poolSize: Int?
    /// `reserve_pool_size=`.
    public var reservePoolSize: Int?
    /// `max_user_connections=`: server connections of this user over all databases.
    public var maxUserConnections: Int?
    /// `max_user_client_connections=`: client connections of this user.
    public var maxUserClientConnections: Int?
    /// `query_timeout=` seconds.
    public var queryTimeout: Double?
    /// `idle_transaction_timeout=` seconds.
    public var idleTransactionTimeout: Double?
    /// `transaction_timeout=` seconds.
    public var transactionTimeout: Double?
    /// `client_idle_timeout=` seconds.
    public var clientIdleTimeout: Double?
    /// `query_rate_limit=` (ours): this user's queries per second.
    public var queryRateLimit: Double?
    /// `query_rate_burst=` (ours): this user's burst above the rate.
    public var queryRateBurst: Int?

    public init(name: String, poolMode: PoolMode? = nil, poolSize: Int? = nil, reservePoolSize: Int? = nil,
                maxUserConnections: Int? = nil, maxUserClientConnections: Int? = nil,
                queryTimeout: Double? = nil, idleTransactionTimeout: Double? = nil,
                transactionTimeout: Double? = nil, clientIdleTimeout: Double? = nil) {
        self.name = name
        self.poolMode = poolMode
        self.poolSize = poolSize
        self.reservePoolSize = reservePoolSize
        self.maxUserConnections = maxUserConnections
        self.maxUserClientConnections = maxUserClientConnections
        self.queryTimeout = queryTimeout
        self.idleTransactionTimeout = idleTransactionTimeout
        self.transactionTimeout = transactionTimeout
        self.clientIdleTimeout = clientIdleTimeout
    }
}

extension UserConfig {
    /// User options, as PgBouncer 1.25 knows them.
    static let optionNames: [String] = [
        "pool_mode", "pool_size", "reserve_pool_size", "max_user_connections", "max_user_client_connections",
        "query_timeout", "idle_transaction_timeout", "transaction_timeout", "client_idle_timeout",
        "query_rate_limit", "query_rate_burst",
    ]

    static func parse(name: String, settings: String) throws -> UserConfig {
        var user = UserConfig(name: name)
        let count = 0...Int(Int32.max)
        for pair in try ConnectionString.parse(settings) {
            let option = pair.key.lowercased()
            let value = pair.value
            do {
                switch option {
                case "pool_mode": user.poolMode = try ConfigValueParser.choice(value, as: PoolMode.self)
                case "pool_size": user.poolSize = try ConfigValueParser.integer(value, in: count)
                case "reserve_pool_size": user.reservePoolSize = try ConfigValueParser.integer(value, in: count)
                case "max_user_connections": user.maxUserConnections = try ConfigValueParser.integer(value, in: count)
                case "max_user_client_connections":
                    user.maxUserClientConnections = try ConfigValueParser.integer(value, in: count)
                case "query_timeout": user.queryTimeout = try ConfigValueParser.seconds(value)
                case "idle_transaction_timeout": user.idleTransactionTimeout = try ConfigValueParser.seconds(value)
                case "transaction_timeout": user.transactionTimeout = try ConfigValueParser.seconds(value)
                case "client_idle_timeout": user.clientIdleTimeout = try ConfigValueParser.seconds(value)
                case "query_rate_limit": user.queryRateLimit = try ConfigValueParser.decimal(value, in: 0...1_000_000_000)
                case "query_rate_burst": user.queryRateBurst = try ConfigValueParser.integer(value, in: 0...1_000_000)
                default: throw ConfigUnknownOption(option: option, known: optionNames)
                }
            } catch let problem as ConfigValueProblem {
                throw ConfigValueProblem("\(option): \(problem.message)")
            }
        }
        return user
    }
}
