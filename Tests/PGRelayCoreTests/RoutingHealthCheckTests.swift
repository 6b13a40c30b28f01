import NIOCore
import XCTest
@testable import PGRelayCore

final class RoutingHealthCheckTests: XCTestCase {
    private let now = NIODeadline.uptimeNanoseconds(5_000_000_000)

    func testWALPositionParsing() {
        let cases: [(String, UInt64?)] = [
            ("0/0", 0), ("16/B374D848", 0x16_B374_D848), ("0/3000148", 0x300_0148), ("FFFFFFFF/FFFFFFFF", UInt64.max),
            ("", nil), ("/", nil), ("1/", nil), ("/1", nil), ("1/2/3", nil), ("G/1", nil), ("123456789/0", nil),
            ("-1/0", nil), ("+1/0", nil), (" 1/0", nil), ("0/1 ", nil),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(WALPosition(parsing: text)?.value, expected, text)
        }
        XCTAssertEqual(WALPosition(0x16_B374_D848).description, "16/B374D848")
    }

    func testLagEstimate() {
        let p = { (value: UInt64) in WALPosition(value) }
        struct Case {
            let name: String
            let primary: WALPosition?, receive: WALPosition?, replay: WALPosition?
            let age: Double?
            let expected: ReplicationLag
        }
        let cases: [Case] = [
            Case(name: "idle primary, caught up: the replay age does not count", primary: p(100), receive: p(100), replay: p(100),
                 age: 600_000, expected: ReplicationLag(milliseconds: 0, bytes: 0)),
            Case(name: "replica past the primary's earlier position", primary: p(100), receive: p(120), replay: p(120),
                 age: 50, expected: ReplicationLag(milliseconds: 0, bytes: 0)),
            Case(name: "behind: replay age", primary: p(200), receive: p(150), replay: p(100),
                 age: 1500, expected: ReplicationLag(milliseconds: 1500, bytes: 100)),
            Case(name: "behind, nothing replayed yet: unmeasurable", primary: p(200), receive: p(150), replay: p(100),
                 age: nil, expected: ReplicationLag(milliseconds: .infinity, bytes: 100)),
            Case(name: "primary unknown, all received is replayed", primary: nil, receive: p(100), replay: p(100),
                 age: 90_000, expected: ReplicationLag(milliseconds: 0, bytes: nil)),
            Case(name: "primary unknown, replay pending", primary: nil, receive: p(150), replay: p(100),
                 age: 700, expected: ReplicationLag(milliseconds: 700, bytes: nil)),
            Case(name: "primary unknown, not streaming", primary: nil, receive: nil, replay: p(100),
                 age: 700, expected: ReplicationLag(milliseconds: 700, bytes: nil)),
            Case(name: "nothing known", primary: nil, receive: nil, replay: nil,
                 age: nil, expected: ReplicationLag(milliseconds: 0, bytes: nil)),
            Case(name: "negative age (clock skew) is 0", primary: p(200), receive: p(100), replay: p(100),
                 age: -20, expected: ReplicationLag(milliseconds: 0, bytes: 100)),
            Case(name: "non-finite age is unmeasurable", primary: p(200), receive: p(100), replay: p(100),
                 age: .nan, expected: ReplicationLag(milliseconds: .infinity, bytes: 100)),
        ]
        for c in cases {
            let lag = ReplicationLag.estimate(primaryPosition: c.primary, receivePosition: c.receive, replayPosition: c.replay, replayAgeMs: c.age)
            XCTAssertEqual(lag, c.expected, c.name)
        }
    }

    private func result(_ values: [String?], columns: [String] = ["in_recovery", "current_lsn", "receive_lsn", "replay_lsn", "replay_age_ms"]) -> QueryResult {
        QueryResult(columns: columns, rows: [values], commandTag: "SELECT 1")
    }

    func testProbeParsing() throws {
        XCTAssertEqual(try HealthCheck.Probe(result: result(["f", "0/3000148", nil, nil, nil])),
                       HealthCheck.Probe(inRecovery: false, currentPosition: WALPosition(0x300_0148)))
        XCTAssertEqual(try HealthCheck.Probe(result: result(["t", nil, "0/10", "0/F", "12.5"])),
                       HealthCheck.Probe(inRecovery: true, receivePosition: WALPosition(16), replayPosition: WALPosition(15), replayAgeMs: 12.5))
        let malformed: [(String, QueryResult)] = [
            ("no rows", QueryResult(columns: ["in_recovery"], rows: [], commandTag: "SELECT 0")),
            ("two rows", QueryResult(columns: ["in_recovery"], rows: [["t"], ["t"]], commandTag: "SELECT 2")),
            ("null boolean", result([nil, nil, nil, nil, nil])),
            ("bad boolean", result(["yes", nil, nil, nil, nil])),
            ("missing column", result(["t"], columns: ["other"])),
            ("bad lsn", result(["f", "zz", nil, nil, nil])),
            ("bad age", result(["t", nil, "0/1", "0/1", "soon"])),
        ]
        for (name, value) in malformed {
            XCTAssertThrowsError(try HealthCheck.Probe(result: value), name)
        }
    }

    private func backend(_ role: BackendRole, status: BackendState.Status = .unknown, failures: Int = 0) -> BackendState {
        BackendState(id: BackendID(database: "app", address: BackendAddress(host: "127.0.0.1", port: 5433), role: role),
                      status: status, consecutiveFailures: failures, bannedUntil: now + .seconds(3))
    }

    func testEvaluation() {
        struct Case {
            let name: String
            let previous: BackendState
            let outcome: Result<HealthCheck.Probe, HealthCheck.ProbeError>
            let primaryPosition: WALPosition?
            let maxLagMs: Double
            let status: BackendState.Status
            let lagMs: Double
            let failures: Int
            let hasError: Bool
        }
        let replicaProbe = HealthCheck.Probe(inRecovery: true, receivePosition: WALPosition(100), replayPosition: WALPosition(90), replayAgeMs: 800)
        let cases: [Case] = [
            Case(name: "primary ok", previous: backend(.primary), outcome: .success(.init(inRecovery: false, currentPosition: WALPosition(5))),
                 primaryPosition: nil, maxLagMs: 0, status: .up, lagMs: 0, failures: 0, hasError: false),
            Case(name: "primary in recovery", previous: backend(.primary), outcome: .success(.init(inRecovery: true)),
                 primaryPosition: nil, maxLagMs: 0, status: .wrongRole, lagMs: 0, failures: 0, hasError: true),
            Case(name: "replica promoted", previous: backend(.replica, status: .up), outcome: .success(.init(inRecovery: false)),
                 primaryPosition: WALPosition(100), maxLagMs: 0, status: .wrongRole, lagMs: 0, failures: 0, hasError: true),
            Case(name: "replica failing again", previous: backend(.replica, status: .down, failures: 2),
                 outcome: .failure(.init("connection refused")), primaryPosition: nil, maxLagMs: 0, status: .down, lagMs: 0, failures: 3, hasError: true),
            Case(name: "replica recovers", previous: backend(.replica, status: .down, failures: 4),
                 outcome: .success(replicaProbe), primaryPosition: WALPosition(90), maxLagMs: 500, status: .up, lagMs: 0, failures: 0, hasError: false),
            Case(name: "replica behind within limit", previous: backend(.replica),
                 outcome: .success(replicaProbe), primaryPosition: WALPosition(100), maxLagMs: 1000, status: .up, lagMs: 800, failures: 0, hasError: false),
            Case(name: "replica behind over limit", previous: backend(.replica, status: .up),
                 outcome: .success(replicaProbe), primaryPosition: WALPosition(100), maxLagMs: 500, status: .lagging, lagMs: 800, failures: 0, hasError: true),
            Case(name: "lag ignored without a limit", previous: backend(.replica),
                 outcome: .success(replicaProbe), primaryPosition: WALPosition(100), maxLagMs: 0, status: .up, lagMs: 800, failures: 0, hasError: false),
        ]
        for c in cases {
            let health = HealthCheck.evaluate(previous: c.previous, outcome: c.outcome, primaryPosition: c.primaryPosition, maxLagMs: c.maxLagMs, now: now)
            XCTAssertEqual(health.status, c.status, c.name)
            XCTAssertEqual(health.lagMs, c.lagMs, c.name)
            XCTAssertEqual(health.consecutiveFailures, c.failures, c.name)
            XCTAssertEqual(health.lastError != nil, c.hasError, c.name)
            XCTAssertEqual(health.checkedAt, now, c.name)
            XCTAssertEqual(health.bannedUntil, c.previous.bannedUntil, c.name)
        }
    }

    func testHealthCheckLoginRule() throws {
        let primary = [BackendAddress(host: "db", port: 5432)]
        let carolSecret = try SCRAMSecret.make(password: "c", salt: [1, 2, 3, 4], iterations: 4096)
        let davidSecret = try SCRAMSecret.make(password: "d", salt: [5, 6, 7, 8], iterations: 4096)
        let md5 = "md5" + String(repeating: "a", count: 32)
        let secrets: [String: StoredSecret] = [
            "zed": .plain("z"), "bob": .plain("b"), "alice": .md5(md5), "carol": .scram(carolSecret), "david": .scram(davidSecret),
        ]
        let carolKeys = SCRAMCredential.keys(clientKey: [9], serverKey: [8], salt: [1, 2, 3, 4], iterations: 4096)
        let keysOfCarol: (String) -> SCRAMCredential? = { $0 == "carol" ? carolKeys : nil }
        let scramOnly = secrets.filter { if case .scram = $0.value { return true } else { return false } }
        func entry(user: String? = nil, password: String? = nil, authUser: String? = nil) -> DatabaseConfig {
            DatabaseConfig(name: "a", hosts: primary, user: user, password: password, authUser: authUser)
        }
        struct Case {
            let name: String
            let entry: DatabaseConfig
            var settings = ""
            var secrets: [String: StoredSecret]
            var keys: (String) -> SCRAMCredential? = { _ in nil }
            let expected: HealthCheckLogin.Plan
        }
        let cases: [Case] = [
            Case(name: "entry user and password", entry: entry(user: "svc", password: "pw"), secrets: secrets,
                 expected: .login(ServerCredentials(user: "svc", password: "pw"))),
            Case(name: "entry user, plain auth_file secret", entry: entry(user: "zed"), secrets: secrets,
                 expected: .login(ServerCredentials(user: "zed", password: "z"))),
            Case(name: "entry user, md5 auth_file secret", entry: entry(user: "alice"), secrets: secrets,
                 expected: .login(ServerCredentials(user: "alice", md5Secret: md5))),
            Case(name: "entry user with SCRAM secret and recovered keys", entry: entry(user: "carol"), secrets: secrets,
                 keys: keysOfCarol, expected: .login(ServerCredentials(user: "carol", scramKeys: carolKeys))),
            Case(name: "entry user with SCRAM secret, no keys yet: the first plain user", entry: entry(user: "carol"),
                 secrets: secrets, expected: .login(ServerCredentials(user: "bob", password: "b"))),
            Case(name: "entry user the auth_file lacks: no password (a trusting server)", entry: entry(user: "svc"),
                 secrets: secrets, expected: .login(ServerCredentials(user: "svc"))),
            Case(name: "the database's auth_user", entry: entry(authUser: "zed"), secrets: secrets,
                 expected: .login(ServerCredentials(user: "zed", password: "z"))),
            Case(name: "the global auth_user", entry: entry(), settings: "auth_user = alice", secrets: secrets,
                 expected: .login(ServerCredentials(user: "alice", md5Secret: md5))),
            Case(name: "no named user: first plain user by name", entry: entry(), secrets: secrets,
                 expected: .login(ServerCredentials(user: "bob", password: "b"))),
            Case(name: "SCRAM keys come before md5 secrets", entry: entry(), secrets: ["alice": .md5(md5), "carol": .scram(carolSecret)],
                 keys: keysOfCarol, expected: .login(ServerCredentials(user: "carol", scramKeys: carolKeys))),
            Case(name: "md5 secrets last", entry: entry(), secrets: ["alice": .md5(md5), "carol": .scram(carolSecret)],
                 expected: .login(ServerCredentials(user: "alice", md5Secret: md5))),
            Case(name: "only SCRAM secrets, no client login yet", entry: entry(), secrets: scramOnly,
                 expected: .awaitingSCRAMLogin(users: ["carol", "david"])),
            Case(name: "only SCRAM secrets, the forced user first", entry: entry(user: "david"), secrets: scramOnly,
                 expected: .awaitingSCRAMLogin(users: ["david", "carol"])),
            Case(name: "only SCRAM secrets, one client logged in", entry: entry(user: "david"), secrets: scramOnly, keys: keysOfCarol,
                 expected: .login(ServerCredentials(user: "carol", scramKeys: carolKeys))),
            Case(name: "health_check_user decides alone", entry: entry(user: "zed"), settings: "health_check_user = carol",
                 secrets: secrets, expected: .awaitingSCRAMLogin(users: ["carol"])),
            Case(name: "health_check_user with keys", entry: entry(user: "zed"), settings: "health_check_user = carol",
                 secrets: secrets, keys: keysOfCarol, expected: .login(ServerCredentials(user: "carol", scramKeys: carolKeys))),
            Case(name: "health_check_user the auth_file lacks", entry: entry(), settings: "health_check_user = monitor",
                 secrets: secrets, expected: .login(ServerCredentials(user: "monitor"))),
            Case(name: "nobody", entry: entry(), secrets: [:], expected: .impossible),
        ]
        for c in cases {
            let config = try ConfigLoader.parse(text: "[pgrelay]\n\(c.settings)\n[databases]\na = host=db\n", path: "t.ini").config
            XCTAssertEqual(HealthCheckLogin.plan(for: c.entry, config: config, secrets: c.secrets, scramKeys: c.keys), c.expected, c.name)
        }
    }

    func testStartupWarningsNameTheDatabasesWhoseReplicasCannotBeChecked() throws {
        let scram = StoredSecret.scram(try SCRAMSecret.make(password: "c", salt: [1, 2, 3, 4], iterations: 4096))
        let text = """
            [pgrelay]
            [databases]
            plain = host=db replicas=r1:5432
            forced = host=db replicas=r1:5432 user=svc password=pw
            noreplicas = host=db
            """
        let config = try ConfigLoader.parse(text: text, path: "t.ini").config
        let never = HealthCheckLogin.startupWarnings(config: config, secrets: [:])
        XCTAssertEqual(never.count, 1)
        XCTAssertTrue(never[0].hasPrefix("database \"plain\": its replicas can never be checked"), never[0])
        let waiting = HealthCheckLogin.startupWarnings(config: config, secrets: ["carol": scram])
        XCTAssertEqual(waiting.count, 1)
        XCTAssertTrue(waiting[0].contains("until a health check can log in") && waiting[0].contains("\"carol\""), waiting[0])
        XCTAssertEqual(HealthCheckLogin.startupWarnings(config: config, secrets: ["bob": .plain("b")]), [])
        let noSplit = try ConfigLoader.parse(text: text.replacingOccurrences(of: "[pgrelay]", with: "[pgrelay]\nread_write_split = off"),
                                             path: "t.ini").config
        XCTAssertEqual(HealthCheckLogin.startupWarnings(config: noSplit, secrets: [:]), [], "replicas unused")
    }

    func testPlanProblemTexts() {
        for plan in [HealthCheckLogin.Plan.awaitingSCRAMLogin(users: ["a", "b", "c", "d"]), .impossible] {
            XCTAssertNotNil(plan.problem)
        }
        XCTAssertNil(HealthCheckLogin.Plan.login(ServerCredentials(user: "u", password: "secretpw")).problem)
        XCTAssertTrue(HealthCheckLogin.Plan.awaitingSCRAMLogin(users: ["a", "b", "c", "d"]).problem!.contains("\"c\", ..."))
    }
}
