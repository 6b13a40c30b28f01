import NIOCore
import PGRelayCore
import XCTest
@testable import PGRelayServer

final class AuthLookupTests: XCTestCase {
    private func config(_ text: String) throws -> Config {
        try ConfigLoader.parse(text: text, path: "test.ini").config
    }

    private let base = """
    [databases]
    appdb = host=10.0.0.1 port=5432 dbname=app
    other = host=10.0.0.2 port=5433 auth_user=dbauth auth_query='SELECT u, p FROM f($1)'
    authdb = host=10.0.0.3 port=5434 dbname=pg_auth
    [pgbouncer]
    auth_file = users.txt
    """

    func testPlanTable() throws {
        struct Case { let ini: String; let database: String; let user: String?; let host: String?; let query: String? }
        let cases = [
            // no auth_user anywhere: no lookup
            Case(ini: base, database: "appdb", user: nil, host: nil, query: nil),
            // per-database auth_user and auth_query win
            Case(ini: base, database: "other", user: "dbauth", host: "10.0.0.2", query: "SELECT u, p FROM f($1)"),
            // global auth_user with PgBouncer's default query, on the client's database
            Case(ini: base + "\nauth_user = admin", database: "appdb", user: "admin", host: "10.0.0.1",
                 query: "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin"),
            // auth_dbname moves the query to that entry's primary
            Case(ini: base + "\nauth_user = admin\nauth_dbname = authdb", database: "appdb", user: "admin", host: "10.0.0.3", query: nil),
            // unknown database: no lookup
            Case(ini: base + "\nauth_user = admin", database: "nosuchdb", user: nil, host: nil, query: nil),
        ]
        for (index, item) in cases.enumerated() {
            let plan = AuthQueryPlan(config: try config(item.ini), database: item.database)
            XCTAssertEqual(plan?.authUser, item.user, "case \(index)")
            XCTAssertEqual(plan?.entry.hosts.first?.host, item.host, "case \(index)")
            if let query = item.query { XCTAssertEqual(plan?.query, query, "case \(index)") }
        }
    }

    func testSecretFromResult() {
        let scram = "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5c3RvcmU=:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5c2Vydg="
        let md5 = "md5" + String(repeating: "a", count: 32)
        let cases: [([[String?]], StoredSecret?)] = [
            ([], nil),                                   // no such role
            ([["u", nil]], nil),                          // expired or password-less
            ([["u", ""]], nil),                           // empty secret
            ([["u"]], nil),                               // malformed: one column
            ([["u", md5], ["u", md5]], nil),              // malformed: two rows
            ([["u", md5]], .md5(md5)),
            ([["u", "plainpw"]], .plain("plainpw")),
            ([["u", scram]], StoredSecret(parsing: scram)),
        ]
        for (rows, expected) in cases {
            let result = QueryResult(columns: ["rolname", "rolpassword"], rows: rows, commandTag: "SELECT \(rows.count)")
            XCTAssertEqual(AuthQueryPlan.secret(in: result), expected)
        }
    }

    func testCacheFreshnessAndLatest() {
        let cache = AuthSecretCache()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        cache.store(.plain("p"), for: "u", now: start)
        XCTAssertEqual(cache.fresh("u", now: start + .seconds(59)), .plain("p"))
        XCTAssertNil(cache.fresh("u", now: start + .seconds(61)))
        XCTAssertEqual(cache.latest("u"), .plain("p"), "server logins still find an old secret")
        XCTAssertNil(cache.fresh("other", now: start))
    }
}
