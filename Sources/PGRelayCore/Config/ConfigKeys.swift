/// Every `[pgrelay]` key pgrelay implements. PgBouncer's keys come first in PgBouncer's SHOW CONFIG
/// order (alphabetical); see `PgBouncerNoEffectKeys` for the PgBouncer keys accepted without effect.
enum ConfigKeys {
    static let implemented: [ConfigKey] = pgbouncerKeys + pgrelayKeys

    private static let pgbouncerKeys: [ConfigKey] = [
        .list("admin_users", \.adminUsers),
        .bool("application_name_add_host", \.applicationNameAddHost),
        ConfigKey("auth_dbname",
                  apply: { config, text, _ in
                      let name = ConfigValueParser.optionalString(text)
                      if let name, ReservedDatabaseNames.contains(name) {
                          throw ConfigValueProblem("cannot use the reserved \"\(name)\" database as an auth_dbname")
                      }
                      config.authDbname = name
                  },
                  render: { $0.authDbname ?? "" }),
        .path("auth_file", \.authFile),
        ConfigKey("auth_query", exposure: .sql,
                  apply: { config, text, _ in config.authQuery = ConfigValueParser.string(text) },
                  render: { $0.authQuery }),
        ConfigKey("auth_type",
                  apply: { config, text, _ in
                      let value = ConfigValueParser.string(text)
                      if AuthType.unsupportedPgBouncerMethods.contains(value.lowercased()) {
                          throw ConfigValueProblem("auth_type \"\(value.lowercased())\" is not supported by pgrelay (use \(AuthType.choices))")
                      }
                      config.authType = try ConfigValueParser.choice(value, as: AuthType.self)
                  },
                  render: { $0.authType.configName }),
        .optionalString("auth_user", \.authUser),
        .seconds("client_idle_timeout", \.clientIdleTimeout),
        .seconds("client_login_timeout", \.clientLoginTimeout),
        .path("client_tls_ca_file", \.clientTLSCAFile),
        .path("client_tls_cert_file", \.clientTLSCertFile),
        .tlsCiphers("client_tls_ciphers", \.clientTLSCiphers),
        .path("client_tls_key_file", \.clientTLSKeyFile),
        .tlsProtocols("client_tls_protocols", \.clientTLSProtocols),
        .choice("client_tls_sslmode", \.clientTLSSSLMode),
        .path("conffile", \.conffile),
        .count("default_pool_size", \.defaultPoolSize),
        .bool("disable_pqexec", \.disablePqexec, changeable: false),
        .seconds("idle_transaction_timeout", \.idleTransactionTimeout),
        .list("ignore_startup_parameters", \.ignoreStartupParameters),
        .string("listen_addr", \.listenAddr, changeable: false),
        .int("listen_backlog", \.listenBacklog, 1...65535, changeable: false),
        .int("listen_port", \.listenPort, 1...65535, changeable: false),
        .bool("log_connections", \.logConnections),
        .bool("log_disconnections", \.logDisconnections),
        .bool("log_pooler_errors", \.logPoolerErrors),
        .bool("log_stats", \.logStats),
        .path("logfile", \.logfile),
        .int("max_client_conn", \.maxClientConn, 1...Int(Int32.max)),
        .count("max_db_client_connections", \.maxDBClientConnections),
        .count("max_db_connections", \.maxDBConnections),
        .int("max_packet_size", \.maxPacketSize, 1024...Int(Int32.max)),
        .count("max_prepared_statements", \.maxPreparedStatements),
        .count("max_user_client_connections", \.maxUserClientConnections),
        .count("max_user_connections", \.maxUserConnections),
        .count("min_pool_size", \.minPoolSize),
        .path("pidfile", \.pidfile, changeable: false),
        .choice("pool_mode", \.poolMode),
        .seconds("query_timeout", \.queryTimeout),
        .seconds("query_wait_notify", \.queryWaitNotify),
        .seconds("query_wait_timeout", \.queryWaitTimeout),
        .count("reserve_pool_size", \.reservePoolSize),
        .seconds("reserve_pool_timeout", \.reservePoolTimeout),
        .int("scram_iterations", \.scramIterations, 1...10_000_000),
        .seconds("server_check_delay", \.serverCheckDelay),
        .string("server_check_query", \.serverCheckQuery, exposure: .sql),
        .seconds("server_connect_timeout", \.serverConnectTimeout),
        .bool("server_fast_close", \.serverFastClose),
        .seconds("server_idle_timeout", \.serverIdleTimeout),
        .seconds("server_lifetime", \.serverLifetime),
        .seconds("server_login_retry", \.serverLoginRetry),
        .string("server_reset_query", \.serverResetQuery, exposure: .sql),
        .bool("server_reset_query_always", \.serverResetQueryAlways),
        .bool("server_round_robin", \.serverRoundRobin),
        .path("server_tls_ca_file", \.serverTLSCAFile),
        .path("server_tls_cert_file", \.serverTLSCertFile),
        .tlsCiphers("server_tls_ciphers", \.serverTLSCiphers),
        .path("server_tls_key_file", \.serverTLSKeyFile),
        .tlsProtocols("server_tls_protocols", \.serverTLSProtocols),
        .choice("server_tls_sslmode", \.serverTLSSSLMode),
        .bool("so_reuseport", \.soReuseport, changeable: false),
        .int("stats_period", \.statsPeriod, 1...86400),
        .list("stats_users", \.statsUsers),
        .bool("tcp_defer_accept", \.tcpDeferAccept),
        .bool("tcp_keepalive", \.tcpKeepalive),
        .int("tcp_keepcnt", \.tcpKeepcnt, 0...1000),
        .int("tcp_keepidle", \.tcpKeepidle, 0...Int(Int32.max)),
        .int("tcp_keepintvl", \.tcpKeepintvl, 0...Int(Int32.max)),
        .int("tcp_user_timeout", \.tcpUserTimeout, 0...Int(Int32.max)),
        .list("track_extra_parameters", \.trackExtraParameters, changeable: false),
        .seconds("transaction_timeout", \.transactionTimeout),
        .string("unix_socket_dir", \.unixSocketDir, changeable: false),
        .string("unix_socket_group", \.unixSocketGroup, changeable: false),
        ConfigKey("unix_socket_mode", changeable: false,
                  apply: { config, text, _ in config.unixSocketMode = try ConfigValueParser.octalMode(text) },
                  render: { "0" + String($0.unixSocketMode, radix: 8) }),
        .string("user", \.user, changeable: false),
        .int("verbose", \.verbose, 0...9),
    ]

    private static let pgrelayKeys: [ConfigKey] = [
        .string("admin_addr", \.adminAddr, origin: .pgrelay, changeable: false),
        ConfigKey("admin_port", origin: .pgrelay, changeable: false,
                  apply: { config, text, _ in
                      config.adminPort = try ConfigValueParser.integer(text, in: 0...65535)
                      config.adminPortIsSet = true
                  },
                  render: { String($0.adminPort) }),
        .decimal("failover_detect_ms", \.failoverDetectMs, 100...3_600_000),
        ConfigKey("health_check_user", origin: .pgrelay,
                  apply: { config, text, _ in config.healthCheckUser = ConfigValueParser.optionalString(text) },
                  render: { $0.healthCheckUser ?? "" }),
        .decimal("health_degraded_ratio", \.healthDegradedRatio, 0...1),
        .decimal("health_unhealthy_ratio", \.healthUnhealthyRatio, 0...1),
        .int("health_window_s", \.healthWindowS, 1...3600, origin: .pgrelay, changeable: false),
        .choice("log_format", \.logFormat, origin: .pgrelay),
        .choice("log_level", \.logLevel, origin: .pgrelay),
        .choice("log_queries", \.logQueries, origin: .pgrelay),
        .int("max_fingerprints", \.maxFingerprints, 1...1_000_000, origin: .pgrelay, changeable: false),
        .int("max_startup_packet_size", \.maxStartupPacketSize, 64...1 << 20, origin: .pgrelay),
        ConfigKey("otlp_endpoint", origin: .pgrelay,
                  apply: { config, text, _ in
                      let value = ConfigValueParser.string(text)
                      if !value.isEmpty { _ = try OTLPEndpoint.parse(value) }
                      config.otlpEndpoint = value
                  },
                  render: { $0.otlpEndpoint }),
        .int("otlp_queue_size", \.otlpQueueSize, 1...1_000_000, origin: .pgrelay),
        .string("otlp_service_name", \.otlpServiceName, origin: .pgrelay),
        .int("query_rate_burst", \.queryRateBurst, 0...1_000_000, origin: .pgrelay),
        .decimal("query_rate_limit", \.queryRateLimit, 0...1_000_000_000),
        .decimal("query_rate_wait_ms", \.queryRateWaitMs, 0...86_400_000),
        .decimal("read_after_write_ms", \.readAfterWriteMs, 0...86_400_000),
        .bool("read_write_split", \.readWriteSplit, origin: .pgrelay),
        .decimal("replica_check_interval_s", \.replicaCheckIntervalS, 0.01...86400),
        .decimal("replica_max_lag_ms", \.replicaMaxLagMs, 0...86_400_000),
        .seconds("shutdown_timeout", \.shutdownTimeout, origin: .pgrelay),
        .decimal("slow_query_threshold_ms", \.slowQueryThresholdMs, 0...86_400_000),
        .bool("stats", \.stats, origin: .pgrelay, changeable: false, hidden: true),
        .decimal("trace_sample_ratio", \.traceSampleRatio, 0...1),
        .int("workers", \.workers, 0...1024, origin: .pgrelay, changeable: false),
        .list("write_functions", \.writeFunctions, origin: .pgrelay),
    ]

    private static let byName: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: implemented.map { ($0.name, $0) })

    /// The implemented key called `name` (any letter case).
    static func key(named name: String) -> ConfigKey? {
        byName[name.lowercased()]
    }
}

/// PgBouncer 1.25 keys that pgrelay accepts and keeps (SHOW CONFIG shows them) without acting on
/// them, each with PgBouncer's default and whether PgBouncer lets it change at run time.
enum PgBouncerNoEffectKeys {
    struct Entry: Sendable {
        let name: String
        let pgbouncerDefault: String
        let changeable: Bool
        let exposure: ConfigKey.Exposure
        /// Why pgrelay does not act on it (docs/configuration.md repeats these).
        let reason: String

        init(_ name: String, _ pgbouncerDefault: String, changeable: Bool = true,
             exposure: ConfigKey.Exposure = .plain, _ reason: String) {
            self.name = name
            self.pgbouncerDefault = pgbouncerDefault
            self.changeable = changeable
            self.exposure = exposure
            self.reason = reason
        }
    }

    static let all: [Entry] = [
        Entry("auth_hba_file", "", "auth_type = hba is not supported"),
        Entry("auth_ident_file", "", "auth_type = hba is not supported"),
        Entry("auth_ldap_options", "", exposure: .secret, "auth_type = ldap is not supported"),
        Entry("autodb_idle_timeout", "3600", "pools of databases created through the * entry are kept while pgrelay runs"),
        Entry("cancel_wait_timeout", "10",
              "cancel requests are forwarded at once on a connection of their own (5 s connect timeout)"),
        Entry("client_tls13_ciphers", "", "TLS 1.3 suites cannot be chosen through swift-nio-ssl (BoringSSL's own order)"),
        Entry("client_tls_dheparams", "auto", "key exchange groups are left to the TLS library"),
        Entry("client_tls_ecdhcurve", "auto", "key exchange groups are left to the TLS library"),
        Entry("dns_max_ttl", "15", "name resolution is done per connection attempt by the OS resolver"),
        Entry("dns_nxdomain_ttl", "15", "name resolution is done per connection attempt by the OS resolver"),
        Entry("dns_zone_check_period", "0", "name resolution is done per connection attempt by the OS resolver"),
        Entry("job_name", "pgbouncer", changeable: false, "Windows service name"),
        Entry("peer_id", "0", "peering ([peers]) is not supported"),
        Entry("pkt_buf", "4096", changeable: false, "buffers are sized by SwiftNIO"),
        Entry("resolv_conf", "", changeable: false, "the OS resolver configuration is used"),
        Entry("sbuf_loopcnt", "5", "fairness is handled by the event loops"),
        Entry("server_tls13_ciphers", "", "TLS 1.3 suites cannot be chosen through swift-nio-ssl (BoringSSL's own order)"),
        Entry("suspend_timeout", "10", "SUSPEND and online restart (-R) are not supported"),
        Entry("syslog", "0", "logs go to stderr and logfile"),
        Entry("syslog_facility", "daemon", "logs go to stderr and logfile"),
        Entry("syslog_ident", "pgbouncer", "logs go to stderr and logfile"),
        Entry("tcp_socket_buffer", "0", "socket buffers are left to the OS"),
    ]

    /// Accepted like the others but not listed by SHOW CONFIG (PgBouncer lists it only on Windows).
    static let unlisted: [Entry] = [
        Entry("service_name", "", changeable: false, "Windows service name (alias of job_name)"),
    ]

    private static let byName: [String: Entry] = Dictionary(uniqueKeysWithValues: (all + unlisted).map { ($0.name, $0) })

    static func entry(named name: String) -> Entry? {
        byName[name.lowercased()]
    }
}
