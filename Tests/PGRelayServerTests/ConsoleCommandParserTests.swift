import XCTest
@testable import PGRelayServer

final class ConsoleCommandParserTests: XCTestCase {
    func testStatementsSplitOnSemicolonsOutsideQuotes() {
        let cases: [(String, [String])] = [
            ("SHOW POOLS", ["SHOW POOLS"]),
            ("show pools;", ["show pools"]),
            ("SHOW POOLS;\nshow databases\n;\nSHOW VERSION;\n", ["SHOW POOLS", "show databases", "SHOW VERSION"]),
            ("  ;  ; ", []),
            ("", []),
            ("SET application_name_add_host = 'a;b'; SHOW CONFIG", ["SET application_name_add_host = 'a;b'", "SHOW CONFIG"]),
            ("PAUSE \"my;db\"", ["PAUSE \"my;db\""]),
            ("SET x = 'it''s;'", ["SET x = 'it''s;'"]),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(ConsoleCommandParser.statements(input), expected, input)
        }
    }

    func testValidCommands() throws {
        let cases: [(String, ConsoleCommand)] = [
            ("SHOW POOLS", .show("POOLS")),
            ("show stats_totals", .show("STATS_TOTALS")),
            ("Show Queries", .show("QUERIES")),
            ("SHOW\tHEALTH", .show("HEALTH")),
            ("SHOW HELP", .help),
            ("show Help", .help),
            ("SHOW active_sockets", .show("ACTIVE_SOCKETS")),
            ("SHOW peer_pools", .show("PEER_POOLS")),
            ("RELOAD", .reload),
            ("reload", .reload),
            ("PAUSE", .pause(database: nil)),
            ("PAUSE appdb", .pause(database: "appdb")),
            ("pause \"App DB\"", .pause(database: "App DB")),
            ("RESUME", .resume(database: nil)),
            ("RESUME AppDb", .resume(database: "AppDb")),
            ("SUSPEND", .suspend),
            ("DISABLE appdb", .disable(database: "appdb")),
            ("ENABLE appdb", .enable(database: "appdb")),
            ("RECONNECT", .reconnect(database: nil)),
            ("RECONNECT appdb", .reconnect(database: "appdb")),
            ("KILL", .kill(database: nil)),
            ("KILL appdb", .kill(database: "appdb")),
            ("KILL_CLIENT 42", .killClient(id: 42)),
            ("WAIT_CLOSE", .waitClose(database: nil)),
            ("wait_close appdb", .waitClose(database: "appdb")),
            ("SET default_pool_size = 5", .set(key: "default_pool_size", value: "5")),
            ("set Default_Pool_Size=5", .set(key: "default_pool_size", value: "5")),
            ("SET server_reset_query = 'DISCARD ALL'", .set(key: "server_reset_query", value: "DISCARD ALL")),
            ("SET x = 'it''s'", .set(key: "x", value: "it's")),
            ("SET log_level TO debug", .set(key: "log_level", value: "debug")),
            ("SET query_wait_timeout = 1.5", .set(key: "query_wait_timeout", value: "1.5")),
            ("SHUTDOWN", .shutdown(.immediate)),
            ("shutdown wait_for_servers", .shutdown(.waitForServers)),
            ("SHUTDOWN WAIT_FOR_CLIENTS", .shutdown(.waitForClients)),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(try ConsoleCommandParser.parse(input), expected, input)
        }
    }

    func testEveryShowSubjectParses() throws {
        for subject in ConsoleCommand.showSubjects {
            XCTAssertEqual(try ConsoleCommandParser.parse("show \(subject.lowercased())"), .show(subject))
        }
    }

    func testMalformedCommandsAreSyntaxErrors() {
        let inputs = [
            "SHOW", "SHOW NO_SUCH_THING", "SHOW POOLS extra", "FROBNICATE", "SELECT 1", "RELOAD now", "SUSPEND x",
            "DISABLE", "ENABLE", "KILL_CLIENT", "KILL_CLIENT abc", "KILL_CLIENT -1", "PAUSE a b", "PAUSE 'literal'",
            "SET", "SET x", "SET x =", "SET x 5", "SET = 5", "SET x = 'unterminated", "SHUTDOWN NOW", "PAUSE \"open",
            "SHOW (POOLS)", "'", "=", String(repeating: "x", count: ConsoleCommandParser.maxStatementLength + 1),
        ]
        for input in inputs {
            XCTAssertThrowsError(try ConsoleCommandParser.parse(input), input) { error in
                XCTAssertEqual((error as? ConsoleError)?.sqlState, "08P01", "\(input): PgBouncer's SQLSTATE for an invalid command")
            }
        }
    }

    func testUnknownCommandMessageIsBounded() {
        let long = String(repeating: "Y", count: 500)
        XCTAssertThrowsError(try ConsoleCommandParser.parse("SHOW \(long)")) { error in
            XCTAssertLessThan((error as? ConsoleError)?.message.count ?? 1000, 120)
        }
    }

    /// One character can hold any number of combining marks: the echo is bounded in bytes too.
    func testEchoedTextIsBoundedInBytes() {
        let marks = String(repeating: "\u{301}", count: 1000)
        for statement in ["SHOW Y\(marks)", "!\(marks)", "SHUTDOWN x\(marks)", "FROB e\(marks)"] {
            XCTAssertThrowsError(try ConsoleCommandParser.parse(statement)) { error in
                XCTAssertLessThan((error as? ConsoleError)?.message.utf8.count ?? 10_000, 400, statement)
            }
        }
    }

    func testOnlyShowIsReadOnly() throws {
        XCTAssertTrue(try ConsoleCommandParser.parse("SHOW POOLS").isReadOnly)
        XCTAssertTrue(try ConsoleCommandParser.parse("SHOW HELP").isReadOnly)
        for input in ["RELOAD", "PAUSE", "RESUME", "KILL x", "SET a = 1", "SHUTDOWN", "SUSPEND", "RECONNECT", "WAIT_CLOSE"] {
            XCTAssertFalse(try ConsoleCommandParser.parse(input).isReadOnly, input)
        }
    }

    func testTags() {
        XCTAssertEqual(ConsoleCommand.set(key: "default_pool_size", value: "5").tag, "SET default_pool_size=5")
        XCTAssertEqual(ConsoleCommand.pause(database: "x").tag, "PAUSE")
        XCTAssertEqual(ConsoleCommand.killClient(id: 3).tag, "KILL_CLIENT")
        XCTAssertEqual(ConsoleCommand.help.tag, "SHOW")
    }
}
