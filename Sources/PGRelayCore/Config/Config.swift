/// The whole validated configuration: every `[pgrelay]` key as a typed property (defaults as in
/// INTERFACE.md, else PgBouncer 1.25's), plus the `[databases]` and `[users]` entries.
///
/// A value type that only the loader and `set(key:value:)` can change, so a `Config` in hand is
/// always one that passed validation. Times are seconds as `Double` (PgBouncer accepts fractions).
public struct Config: Sendable, Hashable {
    // MARK: Files and processes

    /// `conffile`: path of the main config file (what RELOAD reads again).
    public internal(set) var conffile: String = ""
    /// `logfile`: also log to this file (append; reopened on reload). Empty: stderr only.
    public internal(set) var logfile: String = ""
    /// `pidfile`: written at start with `-d`, removed at exit. Empty: none.
    public internal(set) var pidfile: String = ""
    /// `user`: switch to this OS user after start (when started as root). Empty: stay.
    public internal(set) var user: String = ""

    // MARK: Listening

    /// `listen_addr`: comma-separated addresses for client TCP connections, `*` for all, empty for none.
    public internal(set) var listenAddr: String = "127.0.0.1"
    /// `listen_port`: TCP port, and the number in the Unix socket's name.
    public internal(set) var listenPort: Int = 6432
    /// `listen_backlog`: backlog of the listening sockets.
    public internal(set) var listenBacklog: Int = 128
    /// `admin_addr` (ours): address of the HTTP admin API.
    public internal(set) var adminAddr: String = "127.0.0.1"
    /// `admin_port` (ours): port of the HTTP admin API; 0 turns the API off.
    public internal(set) var adminPort: Int = 6433
    /// Whether the file sets `admin_port`. Unset, a taken default port only costs the HTTP API (a
    /// warning), so that several instances run on one host from unchanged pgbouncer.ini files.
    public internal(set) var adminPortIsSet = false
    /// `so_reuseport`: SO_REUSEPORT on the listeners, so that several processes share one port.
    public internal(set) var soReuseport = false
    /// `workers` (ours): reactor threads that run client and server connections; 0 = one per core.
    public internal(set) var workers: Int = 0
    /// `unix_socket_dir`: directory of the `.s.PGSQL.<port>` socket; empty turns Unix sockets off.
    public internal(set) var unixSocketDir: String = "/tmp"
    /// `unix_socket_mode`: permission bits of the socket file.
    public internal(set) var unixSocketMode: Int = 0o777
    /// `unix_socket_group`: group of the socket file; empty leaves it as created.
    public internal(set) var unixSocketGroup: String = ""

    // MARK: Console access

    /// `admin_users`: users allowed every console command.
    public internal(set) var adminUsers: [String] = ["admin"]
    /// `stats_users`: users allowed the read-only SHOW commands.
    public internal(set) var statsUsers: [String] = ["stats"]

    // MARK: Pooling

    /// `pool_mode`: when a server connection returns to the pool.
    public internal(set) var poolMode: PoolMode = .transaction
    /// `default_pool_size`: server connections per (database, user) pool.
    public internal(set) var defaultPoolSize: Int = 20
    /// `min_pool_size`: keep at least this many server connections open per pool.
    public internal(set) var minPoolSize: Int = 0
    /// `reserve_pool_size`: extra connections a pool may open when clients wait too long.
    public internal(set) var reservePoolSize: Int = 0
    /// `reserve_pool_timeout`: how long a client waits before the reserve pool is used.
    public internal(set) var reservePoolTimeout: Double = 5
    /// `max_client_conn`: client connections accepted in total.
    public internal(set) var maxClientConn: Int = 10000
    /// `max_db_connections`: server connections per database; 0 = unlimited.
    public internal(set) var maxDBConnections: Int = 0
    /// `max_db_client_connections`: client connections per database; 0 = unlimited.
    public internal(set) var maxDBClientConnections: Int = 0
    /// `max_user_connections`: server connections per user; 0 = unlimited.
    public internal(set) var maxUserConnections: Int = 0
    /// `max_user_client_connections`: client connections per user; 0 = unlimited.
    public internal(set) var maxUserClientConnections: Int = 0
    /// `server_round_robin`: hand out idle servers round-robin instead of LIFO.
    public internal(set) var serverRoundRobin: Bool = false
    /// `max_prepared_statements`: named prepared statements tracked per server in transaction mode.
    public internal(set) var maxPreparedStatements: Int = 200

    // MARK: Authentication

    /// `auth_type`: how clients prove who they are.
    public internal(set) var authType: AuthType = .scramSHA256
    /// `auth_file`: users and secrets in PgBouncer's format (relative names: to the config file).
    public internal(set) var authFile: String = "userlist.txt"
    /// `auth_user`: user that runs `auth_query` for users missing from `auth_file`.
    public internal(set) var authUser: String?
    /// `auth_query`: parameterized query returning (user name, secret) for `$1`.
    public internal(set) var authQuery: String =
        "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin"
    /// `auth_dbname`: `[databases]` entry in which `auth_query` runs; `nil` = the client's database.
    public internal(set) var authDbname: String?
    /// `scram_iterations`: iterations used when pgrelay computes SCRAM secrets itself.
    public internal(set) var scramIterations: Int = 4096

    // MARK: Server connections

    /// `server_reset_query`: run when a server returns to the pool (session mode, or always; see below).
    public internal(set) var serverResetQuery: String = "DISCARD ALL"
    /// `server_reset_query_always`: run `server_reset_query` in every pool mode.
    public internal(set) var serverResetQueryAlways: Bool = false
    /// `server_check_query`: liveness check for servers idle longer than `server_check_delay`;
    /// empty disables the check, `<empty>` sends an empty query.
    public internal(set) var serverCheckQuery: String = "SELECT 1"
    /// `server_check_delay`: idle time after which `server_check_query` runs before reuse.
    public internal(set) var serverCheckDelay: Double = 30
    /// `server_fast_close`: in session mode, close servers marked for reconnect at transaction end.
    public internal(set) var serverFastClose: Bool = false
    /// `server_lifetime`: close pooled servers connected longer than this (0: use once).
    public internal(set) var serverLifetime: Double = 3600
    /// `server_idle_timeout`: close servers idle longer than this; 0 disables.
    public internal(set) var serverIdleTimeout: Double = 600
    /// `server_connect_timeout`: connect plus login to a server must finish within this.
    public internal(set) var serverConnectTimeout: Double = 15
    /// `server_login_retry`: after a failed server login, wait this long before trying again.
    public internal(set) var serverLoginRetry: Double = 15

    // MARK: Client timeouts

    /// `query_timeout`: cancel queries running longer; 0 disables.
    public internal(set) var queryTimeout: Double = 0
    /// `query_wait_timeout`: disconnect clients waiting longer for a server; 0 disables.
    public internal(set) var queryWaitTimeout: Double = 120
    /// `query_wait_notify`: notice a waiting client after this long; 0 disables.
    public internal(set) var queryWaitNotify: Double = 5
    /// `client_idle_timeout`: close clients idle longer; 0 disables.
    public internal(set) var clientIdleTimeout: Double = 0
    /// `client_login_timeout`: close clients that have not logged in by then.
    public internal(set) var clientLoginTimeout: Double = 60
    /// `idle_transaction_timeout`: close clients idle in a transaction longer; 0 disables.
    public internal(set) var idleTransactionTimeout: Double = 0
    /// `transaction_timeout`: close clients in one transaction longer; 0 disables.
    public internal(set) var transactionTimeout: Double = 0
    /// `shutdown_timeout` (ours): on SIGTERM, wait at most this for running transactions.
    public internal(set) var shutdownTimeout: Double = 30

    // MARK: Client protocol

    /// `ignore_startup_parameters`: startup parameters accepted and dropped.
    public internal(set) var ignoreStartupParameters: [String] = ["extra_float_digits"]
    /// `track_extra_parameters`: parameters kept per client and restored on each server.
    public internal(set) var trackExtraParameters: [String] = ["IntervalStyle"]
    /// `application_name_add_host`: append the client's address to `application_name`.
    public internal(set) var applicationNameAddHost: Bool = false
    /// `disable_pqexec`: refuse the simple query protocol.
    public internal(set) var disablePqexec: Bool = false
    /// `max_packet_size`: largest protocol message let through, in bytes.
    public internal(set) var maxPacketSize: Int = 1 << 30
    /// `max_startup_packet_size` (ours): largest startup packet accepted, in bytes.
    public internal(set) var maxStartupPacketSize: Int = 10000

    // MARK: Statistics, health and routing (ours)

    /// `stats_period`: seconds between averages updates and stats log lines.
    public internal(set) var statsPeriod: Int = 60
    /// `slow_query_threshold_ms`: queries at least this slow count as slow.
    public internal(set) var slowQueryThresholdMs: Double = 100
    /// `health_window_s`: rolling window of health and percentiles.
    public internal(set) var healthWindowS: Int = 60
    /// `health_degraded_ratio`: slow share at or above which health is degraded.
    public internal(set) var healthDegradedRatio: Double = 0.05
    /// `health_unhealthy_ratio`: slow share above which health is unhealthy.
    public internal(set) var healthUnhealthyRatio: Double = 0.10
    /// `read_write_split`: send reads to replicas.
    public internal(set) var readWriteSplit: Bool = true
    /// `health_check_user`: the user the replica health checks log in as (``HealthCheckLogin``);
    /// nil: chosen by the rule there.
    public internal(set) var healthCheckUser: String?
    /// `replica_check_interval_s`: seconds between replica health/lag checks.
    public internal(set) var replicaCheckIntervalS: Double = 2
    /// `failover_detect_ms`: once a `hosts=` database has no usable primary, its servers are
    /// probed every quarter of this (at least every 100 ms), so that a promoted server takes the
    /// writes within this time of its promotion.
    public internal(set) var failoverDetectMs: Double = 2000
    /// `replica_max_lag_ms`: replicas lagging more get no reads; 0 ignores lag.
    public internal(set) var replicaMaxLagMs: Double = 0
    /// `read_after_write_ms`: after a write, the client reads from the primary this long.
    public internal(set) var readAfterWriteMs: Double = 0
    /// `write_functions`: extra function names whose calls make a statement a write.
    public internal(set) var writeFunctions: [String] = []
    /// `max_fingerprints`: size of the per-fingerprint statistics table (LRU).
    public internal(set) var maxFingerprints: Int = 5000
    /// `stats` (hidden benchmark switch): record latency statistics at all.
    public internal(set) var stats: Bool = true

    // MARK: Query rate limits and tracing (ours)

    /// `query_rate_limit`: queries per second of each user without its own limit; 0 = none.
    public internal(set) var queryRateLimit: Double = 0
    /// `query_rate_burst`: queries a limited user or database may run at once above its rate;
    /// 0 = one second's worth.
    public internal(set) var queryRateBurst: Int = 0
    /// `query_rate_wait_ms`: how long a query over its limit waits before it fails with 53400.
    public internal(set) var queryRateWaitMs: Double = 1000
    /// `otlp_endpoint`: OTLP/HTTP traces URL; empty turns tracing off.
    public internal(set) var otlpEndpoint: String = ""
    /// `otlp_service_name`: the `service.name` of exported spans.
    public internal(set) var otlpServiceName: String = "pgrelay"
    /// `otlp_queue_size`: finished spans held for export; more are dropped (and counted).
    public internal(set) var otlpQueueSize: Int = 2048
    /// `trace_sample_ratio`: share of queries without a `traceparent` that get a span of their own.
    public internal(set) var traceSampleRatio: Double = 0

    // MARK: Logging

    /// `log_format` (ours): json or text lines.
    public internal(set) var logFormat: LogFormat = .json
    /// `log_level` (ours): lowest severity logged.
    public internal(set) var logLevel: LogLevel = .info
    /// `log_queries` (ours): which statements are logged (normalized).
    public internal(set) var logQueries: LogQueries = .slow
    /// `verbose`: extra debug output, as `-v` repeated (0..3).
    public internal(set) var verbose: Int = 0
    /// `log_connections`: log successful logins.
    public internal(set) var logConnections: Bool = true
    /// `log_disconnections`: log disconnections with reasons.
    public internal(set) var logDisconnections: Bool = true
    /// `log_pooler_errors`: log errors the pooler sends to clients.
    public internal(set) var logPoolerErrors: Bool = true
    /// `log_stats`: log aggregated statistics every `stats_period`.
    public internal(set) var logStats: Bool = true

    // MARK: TLS

    /// `client_tls_sslmode`: TLS towards clients.
    public internal(set) var clientTLSSSLMode: TLSMode = .disable
    /// `client_tls_cert_file`.
    public internal(set) var clientTLSCertFile: String = ""
    /// `client_tls_key_file`.
    public internal(set) var clientTLSKeyFile: String = ""
    /// `client_tls_ca_file`: validates client certificates.
    public internal(set) var clientTLSCAFile: String = ""
    /// `client_tls_protocols`: TLS versions clients may use (see `TLSProtocolRange`).
    public internal(set) var clientTLSProtocols: String = "secure"
    /// `client_tls_ciphers`: TLS 1.2-and-lower suites offered to clients (see `TLSCipherSelection`).
    public internal(set) var clientTLSCiphers: String = "default"
    /// `server_tls_sslmode`: TLS towards servers.
    public internal(set) var serverTLSSSLMode: TLSMode = .disable
    /// `server_tls_cert_file`.
    public internal(set) var serverTLSCertFile: String = ""
    /// `server_tls_key_file`.
    public internal(set) var serverTLSKeyFile: String = ""
    /// `server_tls_ca_file`: validates server certificates.
    public internal(set) var serverTLSCAFile: String = ""
    /// `server_tls_protocols`: TLS versions used towards servers.
    public internal(set) var serverTLSProtocols: String = "secure"
    /// `server_tls_ciphers`: TLS 1.2-and-lower suites offered to servers.
    public internal(set) var serverTLSCiphers: String = "default"

    // MARK: TCP

    /// `tcp_keepalive`: enable TCP keepalive.
    public internal(set) var tcpKeepalive: Bool = true
    /// `tcp_keepidle`: seconds before the first probe; 0 = OS default.
    public internal(set) var tcpKeepidle: Int = 0
    /// `tcp_keepintvl`: seconds between probes; 0 = OS default.
    public internal(set) var tcpKeepintvl: Int = 0
    /// `tcp_keepcnt`: probes before the connection is dropped; 0 = OS default.
    public internal(set) var tcpKeepcnt: Int = 0
    /// `tcp_user_timeout`: TCP_USER_TIMEOUT in milliseconds; 0 = OS default.
    public internal(set) var tcpUserTimeout: Int = 0
    /// `tcp_defer_accept`: TCP_DEFER_ACCEPT on listening sockets (Linux).
    public internal(set) var tcpDeferAccept: Bool = true

    // MARK: Sections

    /// `[databases]` entries in file order (the `*` fallback among them, if given).
    public internal(set) var databases: [DatabaseConfig] = [] {
        didSet { databaseIndex = Self.index(databases, by: \.name) }
    }
    /// `[users]` entries in file order.
    public internal(set) var users: [UserConfig] = [] {
        didSet { userIndex = Self.index(users, by: \.name) }
    }
    /// Positions in `databases` and `users` by name: lookups run on every client login.
    private var databaseIndex: [String: Int] = [:]
    private var userIndex: [String: Int] = [:]
    /// Values of PgBouncer keys that pgrelay accepts without effect, by key name (shown by SHOW CONFIG).
    public internal(set) var noEffectSettings: [String: String] = [:]

    /// A config with every default and no databases (`ConfigLoader` requires at least one).
    public init() {}
}

extension Config {
    /// Client TCP addresses from `listen_addr` (`*` means all); empty when only the Unix socket listens.
    public var listenAddresses: [String] { ConfigValueParser.list(listenAddr) }

    /// The `[databases]` entry for a database name a client asked for: the entry of that name, or
    /// the `*` fallback renamed (and with `dbname` defaulting to the requested name). `nil` when
    /// neither exists, and always for the console's reserved names.
    public func database(named name: String) -> DatabaseConfig? {
        guard !ReservedDatabaseNames.contains(name) else { return nil }
        if name != "*", let position = databaseIndex[name] { return databases[position] }
        guard let fallbackPosition = databaseIndex["*"] else { return nil }
        var fallback = databases[fallbackPosition]
        fallback.name = name
        fallback.dbname = fallback.dbname ?? name
        return fallback
    }

    /// The `[users]` entry of `name`, if any.
    public func user(named name: String) -> UserConfig? {
        userIndex[name].map { users[$0] }
    }

    private static func index<Entry>(_ entries: [Entry], by name: (Entry) -> String) -> [String: Int] {
        Dictionary(entries.enumerated().map { (name($0.element), $0.offset) }, uniquingKeysWith: { first, _ in first })
    }
}
