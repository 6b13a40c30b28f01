import NIOCore
import NIOPosix
import PGRelayCore
import XCTest
@testable import PGRelayServer

/// The SHOW tables against PgBouncer 1.25.2's RowDescriptions (src/admin.c, src/stats.c):
/// names, order and type letters (s text, i int4, q int8, N numeric, T timestamp sent as text).
final class ConsoleTableTests: XCTestCase {
    static let socket = ["type", "user", "database", "replication", "state", "addr", "port", "local_addr", "local_port",
                         "connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr", "link", "remote_pid", "tls",
                         "application_name", "prepared_statements", "id"]
    static let counters = ["server_assignment_count", "xact_count", "query_count", "bytes_received", "bytes_sent", "xact_time",
                           "query_time", "wait_time"]

    /// (names, PgBouncer's type letters) per SHOW subject.
    static let pgbouncer: [String: ([String], String)] = [
        "POOLS": (["database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active",
                   "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us",
                   "pool_mode", "load_balance_hosts"], "ssiiiiiiiiiiiiiss"),
        "STATS": (["database", "total_server_assignment_count", "total_xact_count", "total_query_count", "total_received",
                   "total_sent", "total_xact_time", "total_query_time", "total_wait_time", "total_client_parse_count",
                   "total_server_parse_count", "total_bind_count", "avg_server_assignment_count", "avg_xact_count",
                   "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time",
                   "avg_client_parse_count", "avg_server_parse_count", "avg_bind_count"], "s" + String(repeating: "N", count: 22)),
        "STATS_TOTALS": (["database"] + counters + ["client_parse_count", "server_parse_count", "bind_count"],
                         "s" + String(repeating: "N", count: 11)),
        "STATS_AVERAGES": (["database"] + counters + ["avg_client_parse_count", "avg_server_parse_count", "avg_bind_count"],
                           "s" + String(repeating: "N", count: 11)),
        "TOTALS": (["name", "value"], "sN"),
        "SERVERS": (socket, "ssssssisiTTiiississii"),
        "CLIENTS": (socket, "ssssssisiTTiiississii"),
        "DATABASES": (["name", "host", "port", "database", "force_user", "pool_size", "min_pool_size", "reserve_pool_size",
                       "server_lifetime", "pool_mode", "load_balance_hosts", "max_connections", "current_connections",
                       "max_client_connections", "current_client_connections", "paused", "disabled"], "ssissiiiissiiiiii"),
        "USERS": (["name", "pool_size", "reserve_pool_size", "pool_mode", "max_user_connections", "current_connections",
                   "max_user_client_connections", "current_client_connections"], "ssssiiii"),
        "CONFIG": (["key", "value", "default", "changeable"], "ssss"),
        "LISTS": (["list", "items"], "si"),
        "MEM": (["name", "size", "used", "free", "memtotal"], "siiii"),
        "STATE": (["key", "value"], "ss"),
        "FDS": (["fd", "task", "user", "database", "addr", "port", "cancel", "link", "client_encoding", "std_strings",
                 "datestyle", "timezone", "password", "scram_client_key", "scram_server_key"], "issssiqisssssbb"),
        "VERSION": (["version"], "s"),
        "SOCKETS": (socket + buffers, "ssssssisiTTiiississii" + "iiiiiii"),
        "ACTIVE_SOCKETS": (socket + buffers, "ssssssisiTTiiississii" + "iiiiiii"),
        "DNS_HOSTS": (["hostname", "ttl", "addrs"], "sqs"),
        "DNS_ZONES": (["zonename", "serial", "count"], "sqi"),
        "PEERS": (["peer_id", "host", "port", "pool_size"], "isii"),
        "PEER_POOLS": (["peer_id", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active_cancel", "sv_login"], "iiiii"),
    ]
    static let buffers = ["recv_pos", "pkt_pos", "pkt_remain", "send_pos", "send_remain", "pkt_avail", "send_avail"]

    var group: MultiThreadedEventLoopGroup!
    var runtime: ProxyRuntime!

    override func setUpWithError() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let text = """
        [pgrelay]
        listen_port = 6432
        admin_users = admin
        stats_users = stats
        [databases]
        appdb = host=127.0.0.1 port=5432 dbname=realdb pool_size=7
        otherdb = host=127.0.0.1 port=5433
        [users]
        app = pool_size=3
        """
        let config = try ConfigLoader.parse(text: text, path: "test.ini").config
        runtime = ProxyRuntime(config: config, secrets: ["app": .plain("secret"), "admin": .plain("a")], group: group,
                               logger: .init(label: "test"))
    }

    override func tearDownWithError() throws {
        try group.syncShutdownGracefully()
    }

    static func letter(_ type: ConsoleTable.ColumnType) -> Character {
        switch type {
        case .text: return "s"
        case .int4: return "i"
        case .int8: return "q"
        case .numeric: return "N"
        case .bytea: return "b"
        case .float8: return "f"
        }
    }

    func testEveryPgBouncerTableHasItsColumnsFirstWithItsTypes() throws {
        for (subject, (names, letters)) in Self.pgbouncer {
            let table = try ConsoleTables.table(named: subject, runtime: runtime, views: .empty)
            XCTAssertEqual(Array(table.columnNames.prefix(names.count)), names, subject)
            // PgBouncer's 'T' (timestamp) is sent as text; ids are int4 as in PgBouncer.
            let expected = letters.map { $0 == "T" ? Character("s") : $0 }
            let actual = table.columns.prefix(names.count).map { Self.letter($0.type) }
            XCTAssertEqual(String(actual), String(expected), subject)
        }
        XCTAssertEqual(Self.pgbouncer["STATS"]?.0.count, 23)
        XCTAssertEqual(Self.pgbouncer["POOLS"]?.0.count, 17)
        XCTAssertEqual(Self.pgbouncer["SERVERS"]?.0.count, 21)
        XCTAssertEqual(Self.pgbouncer["DATABASES"]?.0.count, 17)
    }

    func testLegacyColumnsFollowPgBouncers() throws {
        let stats = try ConsoleTables.table(named: "STATS", runtime: runtime, views: .empty)
        XCTAssertEqual(stats.columnNames.last, "total_requests")
        XCTAssertEqual(stats.columns.last?.type, .numeric)
        let databases = try ConsoleTables.table(named: "DATABASES", runtime: runtime, views: .empty)
        XCTAssertEqual(databases.columnNames[17], "reserve_pool", "right after PgBouncer's 17 columns, as in PgBouncer")
        XCTAssertEqual(Array(databases.columnNames.dropFirst(18)), ["primary_changed_at", "failovers"], "ours follow")
    }

    func testEveryPgBouncerShowCommandIsAnswered() {
        // PgBouncer 1.25.2's show_map (src/admin.c) besides HELP, which is a notice, not a table.
        let pgbouncerSubjects: Set<String> = [
            "CLIENTS", "CONFIG", "DATABASES", "FDS", "LISTS", "PEERS", "PEER_POOLS", "POOLS", "SERVERS", "SOCKETS",
            "ACTIVE_SOCKETS", "STATS", "STATS_TOTALS", "STATS_AVERAGES", "USERS", "VERSION", "TOTALS", "MEM", "DNS_HOSTS",
            "DNS_ZONES", "STATE",
        ]
        XCTAssertEqual(pgbouncerSubjects.subtracting(ConsoleCommand.showSubjects), [])
        XCTAssertEqual(pgbouncerSubjects.subtracting(Self.pgbouncer.keys), [], "every one has its columns checked")
    }

    func testPauseAndResumeAreRefusedAsPgBouncerRefusesThem() throws {
        let loop = group.next()
        func run(_ text: String) throws -> ConsoleReply {
            try ConsoleCommands.run(try ConsoleCommandParser.parse(text), runtime: runtime, on: loop).wait()
        }
        let refusals: [(String, String)] = [
            ("RESUME", "pooler is not paused/suspended"),
            ("RESUME appdb", "database appdb is not paused"),
            ("RESUME nope", "no such database: nope"),
            ("PAUSE pgbouncer", "cannot pause admin db: pgbouncer"),
        ]
        for (command, message) in refusals {
            XCTAssertThrowsError(try run(command), command) { XCTAssertEqual(($0 as? ConsoleError)?.message, message, command) }
        }
        guard case .done("PAUSE") = try run("PAUSE") else { return XCTFail("PAUSE") }
        XCTAssertThrowsError(try run("PAUSE")) { XCTAssertEqual(($0 as? ConsoleError)?.message, "already suspended/paused") }
        XCTAssertThrowsError(try run("PAUSE appdb")) { XCTAssertEqual(($0 as? ConsoleError)?.message, "already suspended/paused") }
        guard case .done("RESUME") = try run("RESUME") else { return XCTFail("RESUME") }
        XCTAssertFalse(runtime.isPausedAll)
    }

    func testHelpIsANoticeWithTheUsage() throws {
        let reply = try ConsoleCommands.run(.help, runtime: runtime, on: group.next()).wait()
        guard case .notice(let fields, let tag) = reply else { return XCTFail("\(reply)") }
        XCTAssertEqual(tag, "SHOW")
        XCTAssertEqual(fields.severity, "NOTICE")
        XCTAssertEqual(fields.message, "Console usage")
        for subject in ConsoleCommand.showSubjects {
            XCTAssertTrue(fields["D"]?.contains(subject) == true, subject)
        }
    }

    func testOurTablesHaveColumns() throws {
        for subject in ["QUERIES", "HEALTH", "ROUTES"] {
            XCTAssertFalse(try ConsoleTables.table(named: subject, runtime: runtime, views: .empty).columns.isEmpty, subject)
        }
        XCTAssertEqual(try ConsoleTables.table(named: "HEALTH", runtime: runtime, views: .empty).rows.first?.first, "healthy")
    }

    func testEveryRowHasTheTableWidth() throws {
        for subject in ConsoleCommand.showSubjects {
            let table = try ConsoleTables.table(named: subject, runtime: runtime, views: .empty)
            for row in table.rows { XCTAssertEqual(row.count, table.columns.count, subject) }
        }
    }

    func testDatabasesRows() throws {
        let table = ConsoleTables.databases(runtime, .empty)
        let rows = table.adminRows
        XCTAssertEqual(rows.map { $0["name"] }, [.string("appdb"), .string("otherdb"), .string("pgbouncer")])
        // the console, listed as PgBouncer lists its own
        XCTAssertEqual(rows[2]["host"], .null)
        XCTAssertEqual(rows[2]["port"], .int(6432))
        XCTAssertEqual(rows[2]["force_user"], .string("pgbouncer"))
        XCTAssertEqual(rows[2]["pool_size"], .int(2))
        XCTAssertEqual(rows[2]["pool_mode"], .string("statement"))
        XCTAssertEqual(rows[0]["host"], .string("127.0.0.1"))
        XCTAssertEqual(rows[0]["database"], .string("realdb"))
        XCTAssertEqual(rows[0]["pool_size"], .int(7))
        XCTAssertEqual(rows[0]["force_user"], .null)
        XCTAssertEqual(rows[1]["port"], .int(5433))
        XCTAssertEqual(rows[0]["paused"], .int(0))
        runtime.setPaused(true, database: "appdb")
        runtime.setDisabled(true, database: "otherdb")
        let after = ConsoleTables.databases(runtime, .empty).adminRows
        XCTAssertEqual(after[0]["paused"], .int(1))
        XCTAssertEqual(after[1]["disabled"], .int(1))
    }

    func testUsersListsAuthFileAndUsersSection() throws {
        let rows = ConsoleTables.users(runtime, .empty).adminRows
        XCTAssertEqual(rows.map { $0["name"] }, [.string("admin"), .string("app")])
        XCTAssertEqual(rows[1]["pool_size"], .string("3"))
        XCTAssertEqual(rows[0]["pool_size"], .string(""))
    }

    func testListsHasTheKeysExportersRead() throws {
        let names = ConsoleTables.lists(runtime, .empty).rows.compactMap { $0.first ?? nil }
        for key in ["databases", "users", "pools", "free_clients", "used_clients", "login_clients", "free_servers",
                    "used_servers", "dns_names", "dns_zones", "dns_queries", "dns_pending"] {
            XCTAssertTrue(names.contains(key), key)
        }
    }

    func testStateFollowsPause() {
        XCTAssertEqual(ConsoleTables.state(runtime).rows.map { $0[1] }, ["yes", "no", "no"])
        runtime.setPaused(true, database: nil)
        XCTAssertEqual(ConsoleTables.state(runtime).rows.map { $0[1] }, ["no", "yes", "no"])
    }

    func testConfigMasksNothingSecretAndSaysChangeable() throws {
        let rows = ConsoleTables.config(runtime.config).adminRows
        let pool = rows.first { $0["key"] == .string("default_pool_size") }
        XCTAssertEqual(pool?["value"], .string("20"))
        XCTAssertEqual(pool?["changeable"], .string("yes"))
    }

    func testUnknownDatabaseCommandsFail() {
        // PgBouncer's admin errors: 08P01 with its words (its test suite and runbooks match them).
        XCTAssertThrowsError(try runtime.pause(database: "nope")) { error in
            XCTAssertEqual(error as? ConsoleError, ConsoleError(message: "no such database: nope", isNotFound: true))
        }
        XCTAssertThrowsError(try runtime.disable(true, database: "nope"))
        XCTAssertThrowsError(try runtime.killClient(id: 999_999)) { error in
            XCTAssertEqual(error as? ConsoleError, ConsoleError(message: "client not found", isNotFound: true))
        }
    }

    func testPauseWithoutServersCompletesAndResumeClears() throws {
        try runtime.pause(database: "appdb").wait()
        XCTAssertTrue(runtime.isPaused(database: "appdb"))
        XCTAssertFalse(runtime.isPaused(database: "otherdb"))
        try runtime.resume(database: "appdb")
        XCTAssertFalse(runtime.isPaused(database: "appdb"))
        try runtime.pause(database: nil).wait()
        XCTAssertTrue(runtime.isPaused(database: "otherdb"))
        try runtime.resume(database: nil)
        XCTAssertFalse(runtime.isPausedAll)
    }
}
