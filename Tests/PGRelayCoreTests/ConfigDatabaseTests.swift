import XCTest
@testable import PGRelayCore

final class ConfigDatabaseTests: XCTestCase {
    private func database(_ connectionString: String, settings: String = "") throws -> DatabaseConfig {
        let config = try loadConfig("[pgrelay]\n\(settings)\n[databases]\napp = \(connectionString)\n").config
        return try XCTUnwrap(config.databases.first)
    }

    func testReplicaLists() throws {
        struct Case {
            let replicas: String
            let port: Int
            let expected: [BackendAddress]
        }
        let cases: [Case] = [
            Case(replicas: "127.0.0.1:5433,127.0.0.1:5434", port: 5432,
                 expected: [BackendAddress(host: "127.0.0.1", port: 5433), BackendAddress(host: "127.0.0.1", port: 5434)]),
            Case(replicas: "replica-1.internal", port: 5432, expected: [BackendAddress(host: "replica-1.internal", port: 5432)]),
            Case(replicas: "db2", port: 6000, expected: [BackendAddress(host: "db2", port: 6000)]),
            Case(replicas: "[::1]:5433,[fe80::1%eth0]", port: 5432,
                 expected: [BackendAddress(host: "::1", port: 5433), BackendAddress(host: "fe80::1%eth0", port: 5432)]),
            Case(replicas: "::1", port: 5432, expected: [BackendAddress(host: "::1", port: 5432)]),
            Case(replicas: "/var/run/replica:5433", port: 5432, expected: [BackendAddress(host: "/var/run/replica", port: 5433)]),
        ]
        for testCase in cases {
            let entry = try database("host=primary port=\(testCase.port) replicas=\(testCase.replicas)")
            XCTAssertEqual(entry.replicas, testCase.expected, testCase.replicas)
        }
    }

    func testMalformedReplicaLists() {
        let cases: [(String, String)] = [
            ("db2:", #"invalid port "" in "db2:" (1..65535)"#),
            ("db2:99999", #"invalid port "99999" in "db2:99999" (1..65535)"#),
            (":5433", #"invalid address ":5433": missing host"#),
            ("[db2]:5433", #"invalid address "[db2]:5433": brackets are for IPv6 literals"#),
            ("[::1]5433", #"invalid address "[::1]5433": expected ":port" after "]""#),
            ("db2,", "empty host in address list"),
            ("db'2", #"invalid host "db'2" in "db'2""#),
        ]
        for (replicas, message) in cases {
            let error = configError { try self.database("host=primary replicas=\(replicas)") }
            XCTAssertEqual(error?.description, "pgrelay.ini:4: app: replicas: \(message)", replicas)
        }
    }

    func testBackendAddressDescriptions() {
        XCTAssertEqual(BackendAddress(host: "::1", port: 5433).description, "[::1]:5433")
        XCTAssertEqual(BackendAddress(host: "db1", port: 5432).description, "db1:5432")
        XCTAssertEqual(BackendAddress(host: "/tmp", port: 5432).description, "/tmp/.s.PGSQL.5432")
        XCTAssertTrue(BackendAddress(host: "@abstract", port: 5432).isUnixSocket)
        XCTAssertFalse(BackendAddress(host: "db1", port: 5432).isUnixSocket)
    }

    func testAllDatabaseOptions() throws {
        let entry = try database("""
            host=db1,db2 port=5433 dbname=real user=app password='p a''ss' auth_user=auth auth_query='SELECT 1' \
            auth_dbname=app pool_size=10 min_pool_size=2 reserve_pool_size=3 max_db_connections=30 \
            max_db_client_connections=300 server_lifetime=120.5 pool_mode=statement connect_query='SET x = 1' \
            load_balance_hosts=round-robin client_encoding=UTF8 datestyle=ISO timezone=UTC application_name=web
            """)
        XCTAssertEqual(entry.hosts, [BackendAddress(host: "db1", port: 5433), BackendAddress(host: "db2", port: 5433)])
        XCTAssertEqual(entry.port, 5433)
        XCTAssertEqual(entry.dbname, "real")
        XCTAssertEqual(entry.user, "app")
        XCTAssertEqual(entry.password, "p a'ss")
        XCTAssertEqual(entry.authUser, "auth")
        XCTAssertEqual(entry.authQuery, "SELECT 1")
        XCTAssertEqual(entry.authDbname, "app")
        XCTAssertEqual(entry.poolSize, 10)
        XCTAssertEqual(entry.minPoolSize, 2)
        XCTAssertEqual(entry.reservePoolSize, 3)
        XCTAssertEqual(entry.maxDBConnections, 30)
        XCTAssertEqual(entry.maxDBClientConnections, 300)
        XCTAssertEqual(entry.serverLifetime, 120.5)
        XCTAssertEqual(entry.poolMode, .statement)
        XCTAssertEqual(entry.connectQuery, "SET x = 1")
        XCTAssertEqual(entry.loadBalanceHosts, .roundRobin)
        XCTAssertEqual(entry.startupParameters,
                       ["client_encoding": "UTF8", "datestyle": "ISO", "timezone": "UTC", "application_name": "web"])
        XCTAssertEqual(entry.replicas, [])
    }

    func testOptionalOptionsDefaultToNil() throws {
        let entry = try database("host=db1")
        XCTAssertEqual(entry.hosts, [BackendAddress(host: "db1", port: 5432)])
        XCTAssertNil(entry.dbname)
        XCTAssertNil(entry.user)
        XCTAssertNil(entry.password)
        XCTAssertNil(entry.poolSize)
        XCTAssertNil(entry.poolMode)
        XCTAssertEqual(entry.loadBalanceHosts, .roundRobin)
        XCTAssertEqual(entry.serverDatabaseName(forRequested: "app"), "app")
    }

    func testPasswordIsMaskedInDescription() throws {
        let entry = try database("host=db1 user=app password=hunter2 replicas=db2:5433")
        XCTAssertFalse(entry.description.contains("hunter2"))
        XCTAssertEqual(entry.description, "app = host=db1 port=5432 user=app password=*** replicas=db2:5433")
    }

    func testFallbackEntry() throws {
        let config = try loadConfig("""
            [pgrelay]
            [databases]
            * = host=10.0.0.9 port=5433 pool_size=4
            app = host=127.0.0.1
            mapped = host=10.0.0.9 dbname=other
            """).config
        XCTAssertEqual(config.database(named: "app")?.hosts.first?.host, "127.0.0.1")
        let resolved = try XCTUnwrap(config.database(named: "anything"))
        XCTAssertEqual(resolved.name, "anything")
        XCTAssertEqual(resolved.dbname, "anything")
        XCTAssertEqual(resolved.hosts, [BackendAddress(host: "10.0.0.9", port: 5433)])
        XCTAssertEqual(resolved.poolSize, 4)
        XCTAssertFalse(resolved.isFallback)
        XCTAssertEqual(config.database(named: "mapped")?.dbname, "other")
        XCTAssertNil(config.database(named: "pgbouncer"))
        XCTAssertNil(config.database(named: "pgrelay"))
    }

    func testFallbackKeepsItsOwnDbname() throws {
        let config = try loadConfig("[pgrelay]\n[databases]\n* = host=h dbname=shared\n").config
        XCTAssertEqual(config.database(named: "x")?.dbname, "shared")
    }

    func testWithoutFallbackUnknownNamesAreNil() throws {
        let config = try loadConfig("[pgrelay]\n[databases]\napp = host=h\n").config
        XCTAssertNil(config.database(named: "other"))
    }

    func testQuotedDatabaseNames() throws {
        let config = try loadConfig("[pgrelay]\n[databases]\n\"my db\" = host=h\n'odd''name' = host=h\n").config
        XCTAssertEqual(config.databases.map(\.name), ["my db", "odd'name"])
    }

    func testUsersSection() throws {
        let config = try loadConfig("""
            [pgrelay]
            [databases]
            app = host=h
            [users]
            alice = pool_mode=session pool_size=3 reserve_pool_size=1 max_user_connections=7 max_user_client_connections=70
            bob = query_timeout=1.5 idle_transaction_timeout=2 transaction_timeout=3 client_idle_timeout=4
            """).config
        XCTAssertEqual(config.users, [
            UserConfig(name: "alice", poolMode: .session, poolSize: 3, reservePoolSize: 1, maxUserConnections: 7,
                       maxUserClientConnections: 70),
            UserConfig(name: "bob", queryTimeout: 1.5, idleTransactionTimeout: 2, transactionTimeout: 3, clientIdleTimeout: 4),
        ])
        XCTAssertNil(config.user(named: "carol"))
    }

    func testByteOrderMarkIsSkipped() throws {
        let config = try loadConfig("\u{FEFF}[pgrelay]\nlisten_port = 7000\n[databases]\napp = host=h\n").config
        XCTAssertEqual(config.listenPort, 7000)
    }

    func testCRLFLineEndings() throws {
        let config = try loadConfig("[pgrelay]\r\nlisten_port = 7000\r\n[databases]\r\napp = host=h port=5433\r\n").config
        XCTAssertEqual(config.listenPort, 7000)
        XCTAssertEqual(config.databases.first?.port, 5433)
    }

    func testWhichReloadChangesRetireTheOpenServers() throws {
        let base = "app = host=h port=5432 dbname=a user=u password=p pool_size=5"
        let before = try XCTUnwrap(loadConfig("[pgrelay]\n[databases]\n\(base)\n").config.database(named: "app"))
        let cases: [(String, Bool)] = [
            (base, true),
            ("app = host=h port=5432 dbname=a user=u password=p pool_size=9 max_db_connections=3", true),
            ("app = host=h port=5432 dbname=a user=u password=p pool_mode=session server_lifetime=1", true),
            ("app = host=h port=5432 dbname=b user=u password=p pool_size=5", false),
            ("app = host=other port=5432 dbname=a user=u password=p pool_size=5", false),
            ("app = host=h port=5433 dbname=a user=u password=p pool_size=5", false),
            ("app = host=h port=5432 dbname=a user=v password=p pool_size=5", false),
            ("app = host=h port=5432 dbname=a user=u password=q pool_size=5", false),
            ("app = host=h port=5432 dbname=a user=u password=p connect_query='SELECT 1'", false),
            ("app = host=h port=5432 dbname=a user=u password=p client_encoding=LATIN1", false),
        ]
        for (line, same) in cases {
            let after = try XCTUnwrap(loadConfig("[pgrelay]\n[databases]\n\(line)\n").config.database(named: "app"))
            XCTAssertEqual(after.opensSameServers(as: before), same, line)
        }
    }
}

final class ConfigHostsListTests: XCTestCase {
    private func load(_ entry: String) throws -> DatabaseConfig {
        let config = try loadConfig("[pgrelay]\n[databases]\napp = \(entry)\n").config
        return try XCTUnwrap(config.databases.first)
    }

    func testHostsListsEveryServerWithoutAPrimary() throws {
        let entry = try load("hosts=10.0.0.1:5432,10.0.0.2,[::1]:6000 port=5433 dbname=appdb")
        XCTAssertTrue(entry.discoversPrimary)
        XCTAssertTrue(entry.needsHealthChecks)
        XCTAssertEqual(entry.hosts, [BackendAddress(host: "10.0.0.1", port: 5432), BackendAddress(host: "10.0.0.2", port: 5433),
                                     BackendAddress(host: "::1", port: 6000)])
        XCTAssertEqual(entry.replicas, [])
        XCTAssertEqual(entry.description, "app = hosts=10.0.0.1:5432,10.0.0.2:5433,[::1]:6000 port=5433 dbname=appdb")
        let plain = try load("host=10.0.0.1,10.0.0.2")
        XCTAssertFalse(plain.discoversPrimary, "host= lists keep PgBouncer's meaning")
        XCTAssertFalse(plain.needsHealthChecks)
    }

    func testMalformedHostsLists() {
        let cases: [(String, String)] = [
            ("hosts=a,b host=c", "hosts= lists every server of the database; it cannot be combined with host= or replicas="),
            ("hosts=a,b replicas=c", "hosts= lists every server of the database; it cannot be combined with host= or replicas="),
            ("hosts=a:1,a:1", "hosts: a server is listed twice"),
            ("hosts=a,", "hosts: empty host in address list"),
            ("hosts=a:0", #"hosts: invalid port "0" in "a:0" (1..65535)"#),
        ]
        for (text, message) in cases {
            let error = configError { _ = try self.load(text) }
            XCTAssertEqual(error?.description, "pgrelay.ini:3: app: \(message)", text)
        }
    }

    func testFailoverDetectDefaultAndRange() throws {
        XCTAssertEqual(try loadConfig("[pgrelay]\n").config.failoverDetectMs, 2000)
        XCTAssertEqual(try loadConfig("[pgrelay]\nfailover_detect_ms = 500\n").config.failoverDetectMs, 500)
        let error = configError { _ = try loadConfig("[pgrelay]\nfailover_detect_ms = 10\n") }
        XCTAssertNotNil(error)
    }
}
