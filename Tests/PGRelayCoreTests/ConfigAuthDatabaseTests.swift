import XCTest
@testable import PGRelayCore

/// auth_dbname values PgBouncer accepts at load and refuses at login.
final class ConfigAuthDatabaseTests: XCTestCase {
    func testUnusableAuthDatabasesLoadWithAWarning() throws {
        struct Case { let name: String; let text: String; let warnings: [String] }
        let cases = [
            Case(name: "global name with no entry",
                 text: "[pgrelay]\nauth_dbname = nowhere\n[databases]\napp = host=h\n",
                 warnings: [#"pgrelay.ini:2: auth_dbname: auth_dbname "nowhere" is not in [databases] and there is no "*" entry: logins that need auth_query will be refused"#]),
            Case(name: "global name served by the * entry",
                 text: "[pgrelay]\nauth_dbname = nowhere\n[databases]\n* = host=h\n", warnings: []),
            Case(name: "global name with an entry",
                 text: "[pgrelay]\nauth_dbname = app\n[databases]\napp = host=h\n", warnings: []),
            Case(name: "entry naming the console",
                 text: "[pgrelay]\n[databases]\napp = host=h auth_dbname=pgbouncer\n",
                 warnings: ["pgrelay.ini:3: app: auth_dbname=pgbouncer names the admin console: logins that need auth_query here will be refused"]),
            Case(name: "entry naming nothing",
                 text: "[pgrelay]\n[databases]\napp = host=h auth_dbname=gone\n",
                 warnings: [#"pgrelay.ini:3: app: auth_dbname "gone" is not in [databases] and there is no "*" entry: logins that need auth_query will be refused"#]),
        ]
        for item in cases {
            XCTAssertEqual(try loadConfig(item.text).warnings.map(\.description), item.warnings, item.name)
        }
    }

    func testGlobalAuthDatabaseNamingTheConsoleIsAnError() {
        for name in ["pgbouncer", "pgrelay"] {
            let error = configError { try loadConfig(mainSection("auth_dbname = \(name)")) }
            XCTAssertEqual(error?.message, "cannot use the reserved \"\(name)\" database as an auth_dbname")
        }
    }
}
