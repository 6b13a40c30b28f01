import XCTest
@testable import PGRelayCore

/// A file whose main section is `[pgbouncer]` gets PgBouncer's defaults where pgrelay's differ;
/// keys the file sets, and `[pgrelay]` files, keep pgrelay's.
final class ConfigPgBouncerFileDefaultsTests: XCTestCase {
    func testDefaultsOfPgBouncerFiles() throws {
        let cases: [(text: String, serverTLS: TLSMode, logFormat: LogFormat)] = [
            ("[pgbouncer]\nlisten_port = 6432", .prefer, .text),
            ("[PgBouncer]\nlisten_port = 6432", .prefer, .text),
            ("[pgbouncer]\nserver_tls_sslmode = disable", .disable, .text),
            ("[pgbouncer]\nserver_tls_sslmode = require", .require, .text),
            ("[pgbouncer]\nlog_format = json", .prefer, .json),
            ("[pgrelay]\nlisten_port = 6432", .disable, .json),
            ("[pgrelay]\nserver_tls_sslmode = allow", .allow, .json),
            ("[pgrelay]\nlog_format = text", .disable, .text),
        ]
        for test in cases {
            let config = try ConfigLoader.parse(text: test.text + "\n[databases]\napp = host=127.0.0.1\n", path: "t.ini").config
            XCTAssertEqual(config.serverTLSSSLMode, test.serverTLS, test.text)
            XCTAssertEqual(config.logFormat, test.logFormat, test.text)
        }
    }
}
