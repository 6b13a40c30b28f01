import XCTest
@testable import PGRelayCore

final class ConfigParsingTests: XCTestCase {
    func testDefaultsMatchTheInterface() throws {
        let config = try loadConfig(mainSection("")).config
        XCTAssertEqual(config.listenAddr, "127.0.0.1")
        XCTAssertEqual(config.listenPort, 6432)
        XCTAssertEqual(config.adminAddr, "127.0.0.1")
        XCTAssertEqual(config.adminPort, 6433)
        XCTAssertEqual(config.unixSocketDir, "/tmp")
        XCTAssertEqual(config.logfile, "")
        XCTAssertEqual(config.pidfile, "")
        XCTAssertEqual(config.adminUsers, ["admin"])
        XCTAssertEqual(config.statsUsers, ["stats"])
        XCTAssertEqual(config.poolMode, .transaction)
        XCTAssertEqual(config.defaultPoolSize, 20)
        XCTAssertEqual(config.minPoolSize, 0)
        XCTAssertEqual(config.reservePoolSize, 0)
        XCTAssertEqual(config.reservePoolTimeout, 5)
        XCTAssertEqual(config.maxClientConn, 10000)
        XCTAssertEqual(config.maxDBConnections, 0)
        XCTAssertEqual(config.maxUserConnections, 0)
        XCTAssertEqual(config.authType, .scramSHA256)
        XCTAssertEqual(config.authFile, "userlist.txt")
        XCTAssertNil(config.authUser)
        XCTAssertEqual(config.authQuery,
                       "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin")
        XCTAssertEqual(config.serverResetQuery, "DISCARD ALL")
        XCTAssertFalse(config.serverResetQueryAlways)
        XCTAssertEqual(config.serverCheckQuery, "SELECT 1")
        XCTAssertEqual(config.serverCheckDelay, 30)
        XCTAssertEqual(config.serverIdleTimeout, 600)
        XCTAssertEqual(config.serverLifetime, 3600)
        XCTAssertEqual(config.serverConnectTimeout, 15)
        XCTAssertEqual(config.serverLoginRetry, 15)
        XCTAssertEqual(config.queryTimeout, 0)
        XCTAssertEqual(config.queryWaitTimeout, 120)
        XCTAssertEqual(config.clientIdleTimeout, 0)
        XCTAssertEqual(config.clientLoginTimeout, 60)
        XCTAssertEqual(config.idleTransactionTimeout, 0)
        XCTAssertEqual(config.transactionTimeout, 0)
        XCTAssertEqual(config.ignoreStartupParameters, ["extra_float_digits"])
        XCTAssertEqual(config.trackExtraParameters, ["IntervalStyle"])
        XCTAssertEqual(config.shutdownTimeout, 30)
        XCTAssertEqual(config.maxPreparedStatements, 200)
        XCTAssertEqual(config.maxPacketSize, 1 << 30)
        XCTAssertEqual(config.maxStartupPacketSize, 10000)
        XCTAssertEqual(config.slowQueryThresholdMs, 100)
        XCTAssertEqual(config.healthWindowS, 60)
        XCTAssertEqual(config.healthDegradedRatio, 0.05)
        XCTAssertEqual(config.healthUnhealthyRatio, 0.10)
        XCTAssertTrue(config.readWriteSplit)
        XCTAssertEqual(config.replicaCheckIntervalS, 2)
        XCTAssertEqual(config.replicaMaxLagMs, 0)
        XCTAssertEqual(config.readAfterWriteMs, 0)
        XCTAssertEqual(config.writeFunctions, [])
        XCTAssertEqual(config.maxFingerprints, 5000)
        XCTAssertEqual(config.logFormat, .json)
        XCTAssertEqual(config.logLevel, .info)
        XCTAssertEqual(config.logQueries, .slow)
        XCTAssertEqual(config.clientTLSSSLMode, .disable)
        XCTAssertEqual(config.serverTLSSSLMode, .disable)
        XCTAssertTrue(config.tcpKeepalive)
        XCTAssertEqual(config.unixSocketMode, 0o777)
        XCTAssertEqual(config.verbose, 0)
        XCTAssertTrue(config.stats)
        XCTAssertEqual(config.conffile, "pgrelay.ini")
    }

    func testValueSpellings() throws {
        struct Case {
            let line: String
            let check: (Config) -> Bool
        }
        let cases: [Case] = [
            Case(line: "read_write_split = off") { !$0.readWriteSplit },
            Case(line: "read_write_split = NO") { !$0.readWriteSplit },
            Case(line: "read_write_split = false") { !$0.readWriteSplit },
            Case(line: "read_write_split = 0") { !$0.readWriteSplit },
            Case(line: "server_round_robin = yes") { $0.serverRoundRobin },
            Case(line: "server_round_robin = 1") { $0.serverRoundRobin },
            Case(line: "server_round_robin = On") { $0.serverRoundRobin },
            Case(line: "server_round_robin = true") { $0.serverRoundRobin },
            Case(line: "pool_mode = SESSION") { $0.poolMode == .session },
            Case(line: "auth_type = md5") { $0.authType == .md5 },
            Case(line: "auth_type = SCRAM-SHA-256") { $0.authType == .scramSHA256 },
            Case(line: "client_tls_sslmode = verify-full") { $0.clientTLSSSLMode == .verifyFull },
            Case(line: "query_timeout = 0.25") { $0.queryTimeout == 0.25 },
            Case(line: "reserve_pool_timeout = 3.") { $0.reservePoolTimeout == 3 },
            Case(line: "default_pool_size = 0x10") { $0.defaultPoolSize == 16 },
            Case(line: "default_pool_size = 007") { $0.defaultPoolSize == 7 },
            Case(line: "unix_socket_mode = 0770") { $0.unixSocketMode == 0o770 },
            Case(line: "unix_socket_mode = 600") { $0.unixSocketMode == 0o600 },
            Case(line: "admin_users = alice, bob carol") { $0.adminUsers == ["alice", "bob", "carol"] },
            Case(line: "stats_users =") { $0.statsUsers.isEmpty },
            Case(line: "write_functions = audit_log,bump_counter") { $0.writeFunctions == ["audit_log", "bump_counter"] },
            Case(line: "logfile = 'pgrelay.log'") { $0.logfile == "pgrelay.log" },
            Case(line: #"server_reset_query = "DISCARD ALL""#) { $0.serverResetQuery == "DISCARD ALL" },
            Case(line: "server_reset_query = DISCARD ALL;") { $0.serverResetQuery == "DISCARD ALL;" },
            Case(line: "server_check_query =") { $0.serverCheckQuery == "" },
            Case(line: "server_check_query = <empty>") { $0.serverCheckQuery == "<empty>" },
            Case(line: "auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename = $1 AND x <> 'a;b'") {
                $0.authQuery == "SELECT usename, passwd FROM pg_shadow WHERE usename = $1 AND x <> 'a;b'"
            },
            Case(line: "auth_query = SELECT 'a' || 'b' = $1") { $0.authQuery == "SELECT 'a' || 'b' = $1" },
            Case(line: "log_level = DEBUG") { $0.logLevel == .debug },
            Case(line: "log_queries = all") { $0.logQueries == .all },
            Case(line: "log_format = text") { $0.logFormat == .text },
            Case(line: "listen_addr = *") { $0.listenAddresses == ["*"] },
            Case(line: "listen_addr = 127.0.0.1, ::1") { $0.listenAddresses == ["127.0.0.1", "::1"] },
            Case(line: "listen_addr =") { $0.listenAddresses.isEmpty },
            Case(line: "auth_user =") { $0.authUser == nil },
            Case(line: "auth_user = pgbouncer_auth") { $0.authUser == "pgbouncer_auth" },
            Case(line: "stats = off") { !$0.stats },
            Case(line: "verbose = 2") { $0.verbose == 2 },
            Case(line: "LISTEN_PORT = 7000") { $0.listenPort == 7000 },
        ]
        for testCase in cases {
            let config = try loadConfig(mainSection(testCase.line)).config
            XCTAssertTrue(testCase.check(config), testCase.line)
        }
    }

    func testCommentsAndBlankLines() throws {
        let text = """
            ; a comment
            # another comment
            [pgrelay]   ; trailing comment on a section

              listen_port = 7000          ; HTTP admin API, see below
            admin_port = 7001 # hash comment
            logfile =                        ; also log to this file
            unix_socket_dir = /var/run/pg#relay
            server_reset_query = DISCARD ALL;
            [databases]
            app = host=127.0.0.1 password='se;cret #1' ; the app database\r
            """
        let config = try loadConfig(text).config
        XCTAssertEqual(config.listenPort, 7000)
        XCTAssertEqual(config.adminPort, 7001)
        XCTAssertEqual(config.logfile, "")
        XCTAssertEqual(config.unixSocketDir, "/var/run/pg#relay")
        XCTAssertEqual(config.serverResetQuery, "DISCARD ALL;")
        XCTAssertEqual(config.databases.first?.password, "se;cret #1")
    }

    func testDuplicateKeyTakesLastValue() throws {
        let loaded = try loadConfig(mainSection("default_pool_size = 5\nlisten_port = 7000\ndefault_pool_size = 9"))
        XCTAssertEqual(loaded.config.defaultPoolSize, 9)
        XCTAssertEqual(loaded.warnings, [])
        let databases = try loadConfig("[pgrelay]\n[databases]\napp = host=a\nother = host=b\napp = host=c\n").config.databases
        XCTAssertEqual(databases.map(\.name), ["app", "other"])
        XCTAssertEqual(databases.first?.hosts.first?.host, "c")
    }

    func testPgBouncerSectionAliasAndSectionsInAnyOrder() throws {
        let text = "[databases]\napp = host=db1\n[pgbouncer]\npool_mode = session\n[users]\nbob = pool_mode=statement\n[PGRelay]\nlisten_port = 7000\n"
        let config = try loadConfig(text).config
        XCTAssertEqual(config.poolMode, .session)
        XCTAssertEqual(config.listenPort, 7000)
        XCTAssertEqual(config.user(named: "bob")?.poolMode, .statement)
    }

    func testUnknownKeyWarnsWithFileLineAndKey() throws {
        let loaded = try loadConfig(mainSection("listen_port = 7000\nmax_client_connections = 50"))
        XCTAssertEqual(loaded.warnings.map(\.description),
                       [#"pgrelay.ini:3: max_client_connections: unknown key, ignored (did you mean "max_client_conn"?)"#])
        XCTAssertEqual(loaded.warnings.first?.key, "max_client_connections")
        XCTAssertEqual(loaded.warnings.first?.line, 3)
        XCTAssertEqual(loaded.config.maxClientConn, 10000)
    }

    func testMisspelledKeySuggestions() {
        let keys = ConfigCatalog.all.map(\.name)
        XCTAssertEqual(ConfigKeySuggestion.closest(to: "default_pool_sise", among: keys), "default_pool_size")
        XCTAssertEqual(ConfigKeySuggestion.closest(to: "listen_prot", among: keys), "listen_port")
        XCTAssertEqual(ConfigKeySuggestion.closest(to: "Pool_Mod", among: keys), "pool_mode")
        XCTAssertNil(ConfigKeySuggestion.closest(to: "colour", among: keys))
        XCTAssertNil(ConfigKeySuggestion.closest(to: String(repeating: "x", count: 500), among: keys))
        XCTAssertEqual(ConfigKeySuggestion.editDistance(Array("kitten".utf8), Array("sitting".utf8)), 3)
        XCTAssertEqual(ConfigKeySuggestion.editDistance([], Array("abc".utf8)), 3)
    }

    func testPgBouncerKeysWithoutEffectWarnAndShowInShowConfig() throws {
        let loaded = try loadConfig(mainSection("so_reuseport = 1\nsyslog = 1\npkt_buf = 8192"))
        XCTAssertEqual(loaded.warnings.map(\.key), ["syslog", "pkt_buf"])
        XCTAssertTrue(loaded.warnings.allSatisfy { $0.message.hasPrefix("has no effect in pgrelay") })
        XCTAssertEqual(loaded.warnings.first?.description,
                       "pgrelay.ini:3: syslog: has no effect in pgrelay (logs go to stderr and logfile)")
        XCTAssertTrue(loaded.config.soReuseport, "so_reuseport is implemented")
        let rows = loaded.config.redactedKeyValues()
        XCTAssertEqual(rows.first { $0.key == "pkt_buf" }?.value, "8192")
        XCTAssertEqual(rows.first { $0.key == "pkt_buf" }?.default, "4096")
    }

    func testWorkersDefaultsToZeroMeaningOnePerCore() throws {
        XCTAssertEqual(try loadConfig(mainSection("")).config.workers, 0)
        XCTAssertEqual(try loadConfig(mainSection("workers = 3")).config.workers, 3)
        let row = try loadConfig(mainSection("workers = 3")).config.redactedKeyValues().first { $0.key == "workers" }
        XCTAssertEqual(row?.value, "3")
        XCTAssertEqual(row?.default, "0")
    }

    func testEveryPgBouncer125KeyIsRecognized() throws {
        // PgBouncer 1.25.2's bouncer_params (src/main.c), Linux build.
        let pgbouncerKeys = """
            admin_users application_name_add_host auth_dbname auth_file auth_hba_file auth_ident_file
            auth_ldap_options auth_query auth_type auth_user autodb_idle_timeout cancel_wait_timeout
            client_idle_timeout client_login_timeout client_tls13_ciphers client_tls_ca_file client_tls_cert_file
            client_tls_ciphers client_tls_dheparams client_tls_ecdhcurve client_tls_key_file client_tls_protocols
            client_tls_sslmode conffile default_pool_size disable_pqexec dns_max_ttl dns_nxdomain_ttl
            dns_zone_check_period idle_transaction_timeout ignore_startup_parameters job_name listen_addr
            listen_backlog listen_port log_connections log_disconnections log_pooler_errors log_stats logfile
            max_client_conn max_db_client_connections max_db_connections max_packet_size max_prepared_statements
            max_user_client_connections max_user_connections min_pool_size peer_id pidfile pkt_buf pool_mode
            query_timeout query_wait_notify query_wait_timeout reserve_pool_size reserve_pool_timeout resolv_conf
            sbuf_loopcnt scram_iterations server_check_delay server_check_query server_connect_timeout
            server_fast_close server_idle_timeout server_lifetime server_login_retry server_reset_query
            server_reset_query_always server_round_robin server_tls13_ciphers server_tls_ca_file
            server_tls_cert_file server_tls_ciphers server_tls_key_file server_tls_protocols server_tls_sslmode
            so_reuseport stats_period stats_users suspend_timeout syslog syslog_facility syslog_ident
            tcp_defer_accept tcp_keepalive tcp_keepcnt tcp_keepidle tcp_keepintvl tcp_socket_buffer
            tcp_user_timeout track_extra_parameters transaction_timeout unix_socket_dir unix_socket_group
            unix_socket_mode user verbose
            """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        let listed = Config().redactedKeyValues().map(\.key)
        XCTAssertEqual(Array(listed.prefix(pgbouncerKeys.count)), pgbouncerKeys,
                       "SHOW CONFIG starts with PgBouncer's keys in PgBouncer's order")
        for key in pgbouncerKeys {
            XCTAssertTrue(ConfigKeys.key(named: key) != nil || PgBouncerNoEffectKeys.entry(named: key) != nil, key)
        }
    }

    func testIncludeIsRelativeToTheIncludingFile() throws {
        let files = [
            "/etc/pgrelay/conf.d/pools.ini": "default_pool_size = 7\n%include more/extra.ini\n",
            "/etc/pgrelay/conf.d/more/extra.ini": "[databases]\napp = host=db1\n",
        ]
        let loaded = try loadConfig("[pgrelay]\nlisten_port = 7000\n%include conf.d/pools.ini\n",
                                    files: files, path: "/etc/pgrelay/pgrelay.ini")
        XCTAssertEqual(loaded.config.defaultPoolSize, 7)
        XCTAssertEqual(loaded.config.listenPort, 7000)
        XCTAssertEqual(loaded.config.databases.map(\.name), ["app"])
        XCTAssertEqual(loaded.config.authFile, "/etc/pgrelay/userlist.txt")
    }

    func testLoadFromDiskFollowsRelativeIncludes() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pgrelay-config-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("conf.d"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "[pgbouncer]\nlisten_port = 7100\n%include conf.d/databases.ini\n"
            .write(to: directory.appendingPathComponent("pgbouncer.ini"), atomically: true, encoding: .utf8)
        try "[databases]\napp = host=127.0.0.1 port=5544\n"
            .write(to: directory.appendingPathComponent("conf.d/databases.ini"), atomically: true, encoding: .utf8)
        let loaded = try ConfigLoader.load(path: directory.appendingPathComponent("pgbouncer.ini").path)
        XCTAssertEqual(loaded.config.listenPort, 7100)
        XCTAssertEqual(loaded.config.database(named: "app")?.hosts, [BackendAddress(host: "127.0.0.1", port: 5544)])
        XCTAssertEqual(loaded.config.authFile, directory.appendingPathComponent("userlist.txt").path)
    }

    func testIncludedFileMayIncludeTheSameFileTwiceSideBySide() throws {
        let files = ["common.ini": "min_pool_size = 1\n"]
        let config = try loadConfig("[pgrelay]\n%include common.ini\n%include common.ini\n[databases]\na = host=h\n",
                                    files: files).config
        XCTAssertEqual(config.minPoolSize, 1)
    }

    func testRelativeFileNamesResolveAgainstTheConfigFile() throws {
        let text = "[pgrelay]\nauth_file = users.txt\nlogfile = log/pgrelay.log\npidfile = /run/pgrelay.pid\n[databases]\na = host=h\n"
        let config = try loadConfig(text, path: "/etc/pgrelay/pgrelay.ini").config
        XCTAssertEqual(config.authFile, "/etc/pgrelay/users.txt")
        XCTAssertEqual(config.logfile, "/etc/pgrelay/log/pgrelay.log")
        XCTAssertEqual(config.pidfile, "/run/pgrelay.pid")
        XCTAssertEqual(config.conffile, "/etc/pgrelay/pgrelay.ini")
    }

    /// The active lines of PgBouncer's stock etc/pgbouncer.ini (and Debian's): no databases yet.
    /// PgBouncer starts with it (console only), so pgrelay does too, with a warning.
    func testStockPgBouncerIniWithoutDatabasesLoadsWithAWarning() throws {
        let text = """
            [databases]
            [users]
            [pgbouncer]
            logfile = /var/log/postgresql/pgbouncer.log
            pidfile = /var/run/postgresql/pgbouncer.pid
            listen_addr = localhost
            listen_port = 6432
            unix_socket_dir = /var/run/postgresql
            auth_type = md5
            auth_file = /etc/pgbouncer/userlist.txt
            """
        let loaded = try loadConfig(text)
        XCTAssertEqual(loaded.warnings.map(\.description), [
            #"pgrelay.ini:1: no databases: clients can reach only the admin console; add entries (or "* = host=...") to [databases]"#,
        ])
        XCTAssertEqual(loaded.config.databases, [])
        XCTAssertNil(loaded.config.database(named: "app"))
        XCTAssertEqual(loaded.config.authFile, "/etc/pgbouncer/userlist.txt")
        let noSection = try loadConfig("[pgrelay]\n")
        XCTAssertEqual(noSection.warnings.first?.location, ConfigLocation(file: "pgrelay.ini", line: nil))
    }

    func testPeersSectionIsIgnoredWithAWarning() throws {
        let loaded = try loadConfig("[pgrelay]\n[databases]\na = host=h\n[peers]\n1 = host=/tmp/pgbouncer1\n")
        XCTAssertEqual(loaded.warnings.map(\.description),
                       ["pgrelay.ini:4: [peers] is accepted but ignored: pgrelay does not support peering"])
    }

    /// The "Small example configuration" and "Database examples" of PgBouncer 1.25's config page,
    /// merged, plus the usual Debian-style settings: they must load unchanged.
    func testPgBouncerDocumentationExampleLoadsUnchanged() throws {
        let text = """
            [databases]
            template1 = host=localhost dbname=template1 auth_user=someuser

            ; foodb over Unix socket
            foodb =

            ; redirect bardb to bazdb on localhost
            bardb = host=localhost dbname=bazdb

            ; access to destination database will go with single user
            forcedb = host=localhost port=300 user=baz password=foo client_encoding=UNICODE datestyle=ISO

            ; host list, per-database limits, quoted connect query
            multi = host=10.0.0.1,10.0.0.2 load_balance_hosts=disable pool_size=40 reserve_pool=5 max_db_connections=50 connect_query='SELECT set_config(''a.b'', ''1'', false)'

            [users]
            user1 = pool_mode=session max_user_connections=10 query_timeout=30

            [pgbouncer]
            pool_mode = session
            listen_port = 6432
            listen_addr = localhost
            auth_type = md5
            auth_file = users.txt
            logfile = pgbouncer.log
            pidfile = pgbouncer.pid
            admin_users = someuser
            stats_users = stat_collector
            unix_socket_dir = /var/run/postgresql
            server_reset_query = DISCARD ALL
            max_client_conn = 100
            default_pool_size = 20
            ignore_startup_parameters = extra_float_digits, options
            server_tls_sslmode = prefer
            tcp_keepalive = 1
            """
        let loaded = try loadConfig(text)
        XCTAssertEqual(loaded.warnings, [])
        let config = loaded.config
        XCTAssertEqual(config.poolMode, .session)
        XCTAssertEqual(config.authType, .md5)
        XCTAssertEqual(config.listenAddr, "localhost")
        XCTAssertEqual(config.maxClientConn, 100)
        XCTAssertEqual(config.serverTLSSSLMode, .prefer)
        XCTAssertEqual(config.databases.map(\.name), ["template1", "foodb", "bardb", "forcedb", "multi"])
        let foodb = try XCTUnwrap(config.database(named: "foodb"))
        XCTAssertEqual(foodb.hosts, [BackendAddress(host: "/var/run/postgresql", port: 5432)])
        XCTAssertEqual(foodb.hosts.first?.unixSocketPath, "/var/run/postgresql/.s.PGSQL.5432")
        XCTAssertEqual(config.database(named: "template1")?.authUser, "someuser")
        XCTAssertEqual(config.database(named: "bardb")?.dbname, "bazdb")
        let forcedb = try XCTUnwrap(config.database(named: "forcedb"))
        XCTAssertEqual(forcedb.port, 300)
        XCTAssertEqual(forcedb.user, "baz")
        XCTAssertEqual(forcedb.password, "foo")
        XCTAssertEqual(forcedb.startupParameters, ["client_encoding": "UNICODE", "datestyle": "ISO"])
        let multi = try XCTUnwrap(config.database(named: "multi"))
        XCTAssertEqual(multi.hosts.map(\.host), ["10.0.0.1", "10.0.0.2"])
        XCTAssertEqual(multi.loadBalanceHosts, .disable)
        XCTAssertEqual(multi.poolSize, 40)
        XCTAssertEqual(multi.reservePoolSize, 5)
        XCTAssertEqual(multi.maxDBConnections, 50)
        XCTAssertEqual(multi.connectQuery, "SELECT set_config('a.b', '1', false)")
        XCTAssertEqual(config.user(named: "user1"),
                       UserConfig(name: "user1", poolMode: .session, maxUserConnections: 10, queryTimeout: 30))
    }

    func testExampleConfigLoadsWithoutWarningsAndDocumentsEveryKey() throws {
        let path = repositoryRoot.appendingPathComponent("proxy.conf.example").path
        let loaded = try ConfigLoader.load(path: path)
        XCTAssertEqual(loaded.warnings.map(\.description), [])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let mentioned = Set(text.split(separator: "\n").compactMap { line -> String? in
            let uncommented = line.drop { $0 == ";" || $0 == "#" || $0 == " " }
            guard let equals = uncommented.firstIndex(of: "=") else { return nil }
            return String(uncommented[..<equals]).trimmingCharacters(in: .whitespaces)
        })
        for row in Config().redactedKeyValues() {
            XCTAssertTrue(mentioned.contains(row.key), "proxy.conf.example does not mention \(row.key)")
        }
        // Every value written in the example is the default (file names are resolved, so skip those).
        for row in loaded.config.redactedKeyValues() where !["conffile", "auth_file"].contains(row.key) {
            XCTAssertEqual(row.value, row.default, "proxy.conf.example sets \(row.key) to a non-default value")
        }
        XCTAssertEqual(loaded.config.database(named: "appdb")?.replicas,
                       [BackendAddress(host: "127.0.0.1", port: 5433), BackendAddress(host: "127.0.0.1", port: 5434)])
    }

    func testConfigurationDocsListEveryKey() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for row in Config().redactedKeyValues() + [("stats", "", "", false)] {
            XCTAssertTrue(text.contains("`\(row.0)`"), "docs/configuration.md does not mention \(row.0)")
        }
        for option in DatabaseConfig.optionNames + UserConfig.optionNames {
            XCTAssertTrue(text.contains("`\(option)`"), "docs/configuration.md does not mention option \(option)")
        }
    }
}
