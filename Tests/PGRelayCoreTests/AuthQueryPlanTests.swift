import PGWire
import XCTest
@testable import PGRelayCore

final class AuthQueryPlanTests: XCTestCase {
    private func config(_ text: String) throws -> Config {
        try ConfigLoader.parse(text: text, path: "test.ini").config
    }

    private let base = """
    [databases]
    appdb = host=10.0.0.1 port=5432 dbname=app
    other = host=10.0.0.2 port=5433 auth_user=dbauth auth_query='SELECT u, p FROM f($1)'
    authdb = host=10.0.0.3 port=5434 dbname=pg_auth
    viaauthdb = host=10.0.0.4 auth_user=dbauth auth_dbname=authdb
    viaconsole = host=10.0.0.4 auth_user=dbauth auth_dbname=pgbouncer
    viamissing = host=10.0.0.4 auth_user=dbauth auth_dbname=gone
    [pgbouncer]
    auth_file = users.txt
    """

    private static let defaultQuery =
        "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin"

    private enum Expected: Equatable {
        case none
        /// auth_user, the host of the entry that answers, and (when given) the query
        case run(user: String, host: String, query: String?)
        /// the client's message, and the log line
        case refuse(message: String, log: String?)
    }

    private func outcome(_ resolution: AuthQueryPlan.Resolution, checkingQuery: Bool) -> Expected {
        switch resolution {
        case .none: return .none
        case .run(let plan):
            return .run(user: plan.authUser, host: plan.entry.hosts.first?.host ?? "", query: checkingQuery ? plan.query : nil)
        case .refuse(let refusal): return .refuse(message: refusal.error.message, log: refusal.log)
        }
    }

    func testResolution() throws {
        struct Case { let ini: String; let database: String; let disabled: Set<String>; let expected: Expected }
        let configError = "bouncer config error"
        let cases = [
            // no auth_user anywhere: no lookup
            Case(ini: base, database: "appdb", disabled: [], expected: .none),
            // per-database auth_user and auth_query win
            Case(ini: base, database: "other", disabled: [],
                 expected: .run(user: "dbauth", host: "10.0.0.2", query: "SELECT u, p FROM f($1)")),
            // global auth_user with PgBouncer's default query, on the client's database
            Case(ini: base + "\nauth_user = admin", database: "appdb", disabled: [],
                 expected: .run(user: "admin", host: "10.0.0.1", query: Self.defaultQuery)),
            // global auth_dbname moves the query to that entry's primary
            Case(ini: base + "\nauth_user = admin\nauth_dbname = authdb", database: "appdb", disabled: [],
                 expected: .run(user: "admin", host: "10.0.0.3", query: nil)),
            // the entry's auth_dbname wins over the global one
            Case(ini: base + "\nauth_dbname = appdb", database: "viaauthdb", disabled: [],
                 expected: .run(user: "dbauth", host: "10.0.0.3", query: nil)),
            // unknown database: no lookup (the login fails later with "no such database")
            Case(ini: base + "\nauth_user = admin", database: "nosuchdb", disabled: [], expected: .none),
            // an auth database that is not configured, disabled, or the console
            Case(ini: base + "\nauth_user = admin\nauth_dbname = nowhere", database: "appdb", disabled: [],
                 expected: .refuse(message: configError, log: #"authentication database "nowhere" is not configured."#)),
            Case(ini: base, database: "viamissing", disabled: [],
                 expected: .refuse(message: configError, log: #"authentication database "gone" is not configured."#)),
            Case(ini: base, database: "viaauthdb", disabled: ["authdb"],
                 expected: .refuse(message: #"authentication database "authdb" is disabled"#, log: nil)),
            Case(ini: base, database: "viaconsole", disabled: [],
                 expected: .refuse(message: configError, log: #"cannot use the reserved "pgbouncer" database as an auth_dbname"#)),
            // a disabled client database is not the auth database's business
            Case(ini: base, database: "other", disabled: ["other"],
                 expected: .run(user: "dbauth", host: "10.0.0.2", query: nil)),
            // the console: only the global auth_user, and never on itself
            Case(ini: base, database: "pgbouncer", disabled: [], expected: .none),
            Case(ini: base + "\nauth_user = admin", database: "pgbouncer", disabled: [],
                 expected: .refuse(message: configError, log: #"cannot use the reserved "pgbouncer" database as an auth_dbname"#)),
            Case(ini: base + "\nauth_user = admin\nauth_dbname = authdb", database: "pgrelay", disabled: [],
                 expected: .run(user: "admin", host: "10.0.0.3", query: nil)),
        ]
        for (index, item) in cases.enumerated() {
            let resolution = AuthQueryPlan.resolve(config: try config(item.ini), database: item.database,
                                                   isDisabled: { item.disabled.contains($0) })
            let checkingQuery: Bool
            if case .run(_, _, let query) = item.expected { checkingQuery = query != nil } else { checkingQuery = false }
            XCTAssertEqual(outcome(resolution, checkingQuery: checkingQuery), item.expected, "case \(index)")
        }
    }

    /// A name with no entry of its own is served by `*`, with the name as the server database.
    func testAuthDatabaseThroughTheFallbackEntry() throws {
        let config = try config("[databases]\n* = host=10.0.0.9 auth_dbname=authhere\n[pgbouncer]\nauth_user = admin\n")
        guard case .run(let plan) = AuthQueryPlan.resolve(config: config, database: "anything") else {
            return XCTFail("no plan")
        }
        XCTAssertEqual(plan.entry.name, "authhere")
        XCTAssertEqual(plan.entry.serverDatabaseName(forRequested: plan.entry.name), "authhere")
        XCTAssertEqual(plan.entry.hosts.first?.host, "10.0.0.9")
    }

    func testLookupFromResult() {
        let scram = "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5c3RvcmU=:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5c2Vydg="
        let md5 = "md5" + String(repeating: "a", count: 32)
        let two = ["rolname", "rolpassword"]
        let cases: [(String, [String], [[String?]], Result<UserLookup, LoginRefusal>)] = [
            ("no such role", two, [], .success(.notFound)),
            ("expired or password-less", two, [["u", nil]], .success(.queried(nil))),
            ("empty secret", two, [["u", ""]], .success(.queried(nil))),
            ("md5", two, [["u", md5]], .success(.queried(.md5(md5)))),
            ("plain", two, [["u", "plainpw"]], .success(.queried(.plain("plainpw")))),
            ("scram", two, [["u", scram]], .success(.queried(StoredSecret(parsing: scram)))),
            ("one column", ["rolname"], [["u"]],
             .failure(.configError(log: "auth_query must return 2 columns (user name, secret), not 1"))),
            ("one column, no row", ["?column?"], [],
             .failure(.configError(log: "auth_query must return 2 columns (user name, secret), not 1"))),
            ("three columns", two + ["x"], [["u", md5, "x"]],
             .failure(.configError(log: "auth_query must return 2 columns (user name, secret), not 3"))),
            ("two rows", two, [["u", md5], ["u", md5]],
             .failure(.configError(log: "auth_query returned 2 rows for one user name"))),
            ("NULL user name", two, [[nil, md5]], .failure(.configError(log: "auth_query returned a NULL user name"))),
            ("short row", two, [["u"]],
             .failure(.configError(log: "auth_query must return 2 columns (user name, secret), not 1"))),
        ]
        for (label, columns, rows, expected) in cases {
            let result = QueryResult(columns: columns, rows: rows, commandTag: "SELECT \(rows.count)")
            XCTAssertEqual(AuthQueryPlan.lookup(in: result), expected, label)
        }
    }

    func testRefusalsNeverCarrySecrets() {
        let result = QueryResult(columns: ["a", "b", "c"], rows: [["u", "md5" + String(repeating: "b", count: 32), "x"]], commandTag: "SELECT 1")
        guard case .failure(let refusal) = AuthQueryPlan.lookup(in: result) else { return XCTFail("accepted") }
        XCTAssertFalse("\(refusal.error.message) \(refusal.log ?? "")".contains("bbbb"))
    }
}
