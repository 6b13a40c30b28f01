import XCTest
@testable import PGRelayCore

/// A file whose main section is `[pgbouncer]` gets PgBouncer's defaults where pgrelay's differ;
/// keys the file sets, and `[pgrelay]` files, keep pgrelay's.
final class ConfigPgBouncerFileDefaultsTests: XCTestCase {
    func testDefaultsOfPgBouncerFiles() throws {
        let cases: [(text: String, serverTLS: TLSMode, logFormat: LogFormat, checkQuery: String)] = [
            ("[pgbouncer]\nlisten_port = 6432", .prefer, .text, "<empty>"),
            ("[PgBouncer]\nlisten_port = 6432", .prefer, .text, "<empty>"),
            ("[pgbouncer]\nserver_tls_sslmode = disable", .disable, .text, "<empty>"),
            ("[pgbouncer]\nserver_tls_sslmode = require", .require, .text, "<empty>"),
            ("[pgbouncer]\nlog_format = json", .prefer, .json, "<empty>"),
            ("[pgbouncer]\nserver_check_query = select 1", .prefer, .text, "select 1"),
            ("[pgbouncer]\nserver_check_query =", .prefer, .text, ""),
            ("[pgrelay]\nlisten_port = 6432", .disable, .json, "SELECT 1"),
            ("[pgrelay]\nserver_tls_sslmode = allow", .allow, .json, "SELECT 1"),
            ("[pgrelay]\nlog_format = text", .disable, .text, "SELECT 1"),
        ]
        for test in cases {
            let config = try ConfigLoader.parse(text: test.text + "\n[databases]\napp = host=127.0.0.1\n", path: "t.ini").config
            XCTAssertEqual(config.serverTLSSSLMode, test.serverTLS, test.text)
            XCTAssertEqual(config.logFormat, test.logFormat, test.text)
            XCTAssertEqual(config.serverCheckQuery, test.checkQuery, test.text)
        }
    }

    func testPoolModeAndAuthTypeOfPgBouncerFiles() throws {
        let cases: [(text: String, poolMode: PoolMode, authType: AuthType)] = [
            ("[pgbouncer]\nlisten_port = 6432", .session, .md5),
            ("[pgbouncer]\npool_mode = transaction", .transaction, .md5),
            ("[pgbouncer]\nauth_type = scram-sha-256", .session, .scramSHA256),
            ("[pgbouncer]\nauth_type = trust\npool_mode = statement", .statement, .trust),
            ("[pgrelay]\nlisten_port = 6432", .transaction, .scramSHA256),
            ("[pgrelay]\npool_mode = session", .session, .scramSHA256),
        ]
        for test in cases {
            let config = try ConfigLoader.parse(text: test.text + "\n[databases]\napp = host=127.0.0.1\n", path: "t.ini").config
            XCTAssertEqual(config.poolMode, test.poolMode, test.text)
            XCTAssertEqual(config.authType, test.authType, test.text)
        }
    }

    /// What a pool sends to check a server: nothing, an empty query, or the SQL.
    func testCheckSQL() throws {
        let cases: [(query: String, sql: String?)] = [("", nil), ("<empty>", ""), ("SELECT 1", "SELECT 1"), ("select 2", "select 2")]
        for test in cases {
            let config = try ConfigLoader.parse(text: "[pgrelay]\nserver_check_query = \(test.query)\n[databases]\napp = host=127.0.0.1\n", path: "t.ini").config
            XCTAssertEqual(config.poolSettings(database: config.databases[0], user: "u").checkSQL, test.sql, test.query)
        }
    }
}
