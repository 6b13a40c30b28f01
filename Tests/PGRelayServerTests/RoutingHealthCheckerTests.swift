import Logging
import NIOCore
import NIOPosix
import PGRelayCore
import PGRelayServer
import XCTest

final class RoutingHealthCheckerTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!

    override func setUp() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    }

    override func tearDown() {
        try? group.syncShutdownGracefully()
    }

    private func config(_ databases: String, settings: String = "") throws -> Config {
        try ConfigLoader.parse(text: "[pgrelay]\nreplica_check_interval_s = 1\n\(settings)\n[databases]\n\(databases)\n", path: "test.ini").config
    }

    private func checker(_ config: Config, registry: BackendRegistry, logs: CapturedLogs,
                         secrets: [String: StoredSecret] = [:]) -> ReplicaHealthChecker {
        ReplicaHealthChecker(group: group, registry: registry, configuration: { config },
                             login: { HealthCheckLogin.plan(for: $0, config: config, secrets: secrets) }, logger: logs.logger())
    }

    private func statuses(_ registry: BackendRegistry, _ database: String) -> [BackendState.Status] {
        registry.snapshot.databases[database]?.all.map(\.status) ?? []
    }

    /// A port nobody listens on.
    private func closedPort() throws -> Int {
        let server = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = try XCTUnwrap(server.localAddress?.port)
        try server.close().wait()
        return port
    }

    // MARK: without PostgreSQL

    func testUnreachableBackendsAreDownAndLoggedOncePerTransition() throws {
        let port = try closedPort()
        let config = try config("app = host=127.0.0.1 port=\(port) replicas=127.0.0.1:\(port) user=u password=p")
        let registry = BackendRegistry()
        let logs = CapturedLogs()
        let checker = checker(config, registry: registry, logs: logs)
        try checker.checkNow().wait()
        try checker.checkNow().wait()
        XCTAssertEqual(statuses(registry, "app"), [.down, .down])
        XCTAssertEqual(registry.snapshot.databases["app"]?.replicas.first?.consecutiveFailures, 2)
        XCTAssertNotNil(registry.snapshot.databases["app"]?.replicas.first?.lastError)
        XCTAssertEqual(logs.all.filter { $0.level == .warning }.count, 2, "one warning per backend, not per check")
        XCTAssertNil(registry.chooseReplica(database: "app") { _ in 0 })
        XCTAssertFalse(logs.all.contains { "\($0.metadata)".contains("password=p") })
    }

    func testNoUserToLogInAsMeansDownWithTheReason() throws {
        let config = try config("app = host=127.0.0.1 port=1 replicas=127.0.0.1:2")
        let registry = BackendRegistry()
        try checker(config, registry: registry, logs: CapturedLogs()).checkNow().wait()
        XCTAssertEqual(statuses(registry, "app"), [.down, .down])
        XCTAssertEqual(registry.snapshot.databases["app"]?.primary.lastError?.contains("no user to log in as"), true)
    }

    /// Only SCRAM secrets and no client login yet: down, saying whose login would unlock the checks.
    func testSCRAMSecretsWithoutKeysMeanDownUntilAClientLogsIn() throws {
        let config = try config("app = host=127.0.0.1 port=1 replicas=127.0.0.1:2")
        let secret = try SCRAMSecret.make(password: "pw", salt: [1, 2, 3, 4], iterations: 4096)
        let registry = BackendRegistry()
        try checker(config, registry: registry, logs: CapturedLogs(), secrets: ["alice": .scram(secret)]).checkNow().wait()
        XCTAssertEqual(statuses(registry, "app"), [.down, .down])
        XCTAssertEqual(registry.snapshot.databases["app"]?.replicas.first?.lastError?.contains("no client of \"alice\""), true)
    }

    func testDatabasesWithoutReplicasAreNotChecked() throws {
        let registry = BackendRegistry()
        try checker(try config("app = host=127.0.0.1 port=1"), registry: registry, logs: CapturedLogs()).checkNow().wait()
        XCTAssertTrue(registry.snapshot.databases.isEmpty)
    }

    // MARK: with PostgreSQL (PGRELAY_TEST_PG_PORT, PGRELAY_TEST_REPLICA_PORTS)

    private func clusterConfig(_ cluster: RoutingTestCluster, maxLagMs: Int = 10_000, swapped: Bool = false) throws -> Config {
        let replicas = cluster.replicaPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",")
        if swapped {
            return try config("appdb = host=127.0.0.1 port=\(cluster.replicaPorts[0]) replicas=127.0.0.1:\(cluster.primaryPort) user=app password=app",
                              settings: "replica_max_lag_ms = \(maxLagMs)")
        }
        return try config("appdb = host=127.0.0.1 port=\(cluster.primaryPort) replicas=\(replicas) user=app password=app",
                          settings: "replica_max_lag_ms = \(maxLagMs)")
    }

    func testHealthyClusterWithIdlePrimaryHasNoLag() throws {
        let cluster = try RoutingTestCluster.fromEnvironment()
        try cluster.requireReplicas(2)
        let registry = BackendRegistry()
        let checker = checker(try clusterConfig(cluster, maxLagMs: 1000), registry: registry, logs: CapturedLogs())
        try checker.checkNow().wait()
        let backends = try XCTUnwrap(registry.snapshot.databases["appdb"])
        XCTAssertEqual(backends.primary.status, .up)
        XCTAssertEqual(backends.primary.inRecovery, false)
        for replica in backends.replicas {
            XCTAssertEqual(replica.status, .up, "\(replica)")
            XCTAssertEqual(replica.inRecovery, true)
            XCTAssertLessThanOrEqual(replica.lagMs, 1000)
        }
        let ports = Set((0..<4).compactMap { _ in registry.chooseReplica(database: "appdb") { _ in 0 }?.id.address.port })
        XCTAssertEqual(ports, Set(cluster.replicaPorts.prefix(2)))
    }

    func testWrongRolesAreRoutedAround() throws {
        let cluster = try RoutingTestCluster.fromEnvironment()
        try cluster.requireReplicas(1)
        let registry = BackendRegistry()
        let logs = CapturedLogs()
        try checker(try clusterConfig(cluster, swapped: true), registry: registry, logs: logs).checkNow().wait()
        XCTAssertEqual(statuses(registry, "appdb"), [.wrongRole, .wrongRole])
        XCTAssertNil(registry.chooseReplica(database: "appdb") { _ in 0 }, "a promoted replica gets no reads")
        XCTAssertEqual(logs.all.filter { $0.level == .error }.count, 2)
    }

    func testReplicaWithPausedReplayLagsThenCatchesUp() throws {
        let cluster = try RoutingTestCluster.fromEnvironment()
        try cluster.requireReplicas(2)
        let client = InternalQueryClient(group: group)
        let admin = ServerCredentials(user: "admin", password: "admin")
        let app = ServerCredentials(user: "app", password: "app")
        let replica = BackendAddress(host: "127.0.0.1", port: cluster.replicaPorts[0])
        let primary = BackendAddress(host: "127.0.0.1", port: cluster.primaryPort)
        func run(_ sql: String, on address: BackendAddress, as login: ServerCredentials) throws {
            _ = try client.query(sql, address: address, database: "appdb", credentials: login, timeout: .seconds(5)).wait()
        }
        let registry = BackendRegistry()
        let checker = checker(try clusterConfig(cluster, maxLagMs: 100), registry: registry, logs: CapturedLogs())
        try run("CREATE TABLE IF NOT EXISTS routing_lag_probe (x int)", on: primary, as: app)
        try run("SELECT pg_wal_replay_pause()", on: replica, as: admin)
        do {
            try run("INSERT INTO routing_lag_probe VALUES (1)", on: primary, as: app)
            usleep(300_000)
            try checker.checkNow().wait()
            let paused = try XCTUnwrap(registry.snapshot.databases["appdb"]?.replicas[0])
            XCTAssertEqual(paused.status, .lagging)
            XCTAssertGreaterThan(paused.lagMs, 100)
            XCTAssertGreaterThan(paused.lagBytes ?? 0, 0)
            XCTAssertEqual(registry.chooseReplica(database: "appdb") { _ in 0 }?.id.address.port, cluster.replicaPorts[1])
        } catch {
            try? run("SELECT pg_wal_replay_resume()", on: replica, as: admin)
            throw error
        }
        try run("SELECT pg_wal_replay_resume()", on: replica, as: admin)
        let deadline = NIODeadline.now() + .seconds(5)
        repeat {
            try checker.checkNow().wait()
            if registry.snapshot.databases["appdb"]?.replicas[0].status == .up { break }
            usleep(100_000)
        } while NIODeadline.now() < deadline
        XCTAssertEqual(registry.snapshot.databases["appdb"]?.replicas[0].status, .up)
        XCTAssertEqual(registry.snapshot.databases["appdb"]?.replicas[0].lagMs, 0)
    }

    func testStoppedReplicaIsMarkedDownAndComesBack() throws {
        let cluster = try RoutingTestCluster.fromEnvironment()
        try cluster.requireReplicas(2)
        let registry = BackendRegistry()
        let logs = CapturedLogs()
        let checker = checker(try clusterConfig(cluster), registry: registry, logs: logs)
        let interval = TimeAmount.seconds(1)
        checker.start()
        defer { checker.stop() }
        try waitFor(registry, within: interval * 3) { $0 == [.up, .up, .up] }

        try cluster.clusterCommand("stop-replica", replica: 1)
        do {
            try waitFor(registry, within: interval * 2) { $0 == [.up, .down, .up] }
            XCTAssertEqual(registry.chooseReplica(database: "appdb") { _ in 0 }?.id.address.port, cluster.replicaPorts[1])
        } catch {
            try? cluster.clusterCommand("start-replica", replica: 1)
            throw error
        }
        try cluster.clusterCommand("start-replica", replica: 1)
        try waitFor(registry, within: interval * 2) { $0 == [.up, .up, .up] }
        XCTAssertTrue(logs.all.contains { $0.level == .warning && $0.metadata["backend"] == "127.0.0.1:\(cluster.replicaPorts[0])" })
        XCTAssertTrue(logs.all.contains { $0.level == .info && $0.metadata["previous_status"] == "down" })
    }

    private func waitFor(_ registry: BackendRegistry, within limit: TimeAmount, file: StaticString = #filePath, line: UInt = #line,
                         _ condition: ([BackendState.Status]) -> Bool) throws {
        let deadline = NIODeadline.now() + limit
        while NIODeadline.now() < deadline {
            if condition(statuses(registry, "appdb")) { return }
            usleep(50_000)
        }
        XCTFail("not reached within \(limit.nanoseconds / 1_000_000) ms: \(statuses(registry, "appdb"))", file: file, line: line)
        throw ConditionNotReached()
    }
}

private struct ConditionNotReached: Error {}
