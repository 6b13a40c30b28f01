import NIOCore
import XCTest
@testable import PGRelayCore

final class RoutingRegistryTests: XCTestCase {
    private let primary = BackendAddress(host: "127.0.0.1", port: 5432)
    private let replica1 = BackendAddress(host: "127.0.0.1", port: 5433)
    private let replica2 = BackendAddress(host: "127.0.0.1", port: 5434)

    private func registry(maxLagMs: Double = 0) -> BackendRegistry {
        let registry = BackendRegistry()
        registry.configure([BackendTopology(database: "app", primary: primary, replicas: [replica1, replica2])], maxLagMs: maxLagMs)
        return registry
    }

    private func id(_ address: BackendAddress, _ role: BackendRole = .replica, database: String = "app") -> BackendID {
        BackendID(database: database, address: address, role: role)
    }

    private func up(_ address: BackendAddress, lagMs: Double = 0) -> BackendState {
        BackendState(id: id(address), status: .up, inRecovery: true, lagMs: lagMs)
    }

    func testNewBackendsStartUnknownAndGetNoReads() {
        let registry = registry()
        let snapshot = registry.snapshot
        XCTAssertEqual(snapshot.databases["app"]?.replicas.map(\.status), [.unknown, .unknown])
        XCTAssertEqual(snapshot.databases["app"]?.primary.id, id(primary, .primary))
        XCTAssertNil(registry.chooseReplica(database: "app") { _ in 0 })
        XCTAssertEqual(registry.counters.fallbacks, ["app": 1])
    }

    func testSnapshotIsAValueUnchangedByLaterUpdates() {
        let registry = registry()
        let before = registry.snapshot
        registry.update([up(replica1)])
        XCTAssertEqual(before.databases["app"]?.replicas[0].status, .unknown)
        XCTAssertEqual(registry.snapshot.databases["app"]?.replicas[0].status, .up)
    }

    func testRoundRobinOverHealthyReplicas() {
        let registry = registry()
        registry.update([up(replica1), up(replica2)])
        let picks = (0..<4).compactMap { _ in registry.chooseReplica(database: "app") { _ in 0 }?.id.address.port }
        XCTAssertEqual(picks, [5433, 5434, 5433, 5434])
        XCTAssertEqual(registry.counters.totalFallbacks, 0)
    }

    func testLeastOutstandingWins() {
        let registry = registry()
        registry.update([up(replica1), up(replica2)])
        let busy: [BackendAddress: Int] = [replica1: 3, replica2: 1]
        for _ in 0..<3 {
            XCTAssertEqual(registry.chooseReplica(database: "app") { busy[$0] ?? 0 }?.id.address, replica2)
        }
    }

    func testLagLimitComesFromConfiguration() {
        let registry = registry(maxLagMs: 100)
        registry.update([up(replica1, lagMs: 150), up(replica2, lagMs: 50)])
        XCTAssertEqual(registry.chooseReplica(database: "app") { _ in 0 }?.id.address, replica2)
        registry.configure([BackendTopology(database: "app", primary: primary, replicas: [replica1, replica2])], maxLagMs: 200)
        let ports = Set((0..<2).compactMap { _ in registry.chooseReplica(database: "app") { _ in 0 }?.id.address.port })
        XCTAssertEqual(ports, [5433, 5434])
    }

    func testReconfigureKeepsKnownHealthAndDropsRemovedBackends() {
        let registry = registry()
        registry.update([up(replica1), up(replica2)])
        let replica3 = BackendAddress(host: "127.0.0.1", port: 5435)
        registry.configure([BackendTopology(database: "app", primary: primary, replicas: [replica2, replica3])], maxLagMs: 0)
        let replicas = registry.snapshot.databases["app"]?.replicas
        XCTAssertEqual(replicas?.map(\.id.address), [replica2, replica3])
        XCTAssertEqual(replicas?.map(\.status), [.up, .unknown])
        // A late result for the removed replica is ignored.
        registry.update([up(replica1)])
        XCTAssertNil(registry.snapshot.health(of: id(replica1)))
        registry.configure([], maxLagMs: 0)
        XCTAssertTrue(registry.snapshot.databases.isEmpty)
        XCTAssertNil(registry.chooseReplica(database: "app") { _ in 0 })
        XCTAssertEqual(registry.counters.totalFallbacks, 0, "a database without replicas is no fallback")
    }

    func testUpdateForOtherRoleOrDatabaseIsIgnored() {
        let registry = registry()
        registry.update([BackendState(id: id(replica1, .primary), status: .up, inRecovery: false),
                         BackendState(id: id(replica1, database: "other"), status: .up, inRecovery: true)])
        XCTAssertEqual(registry.snapshot.databases["app"]?.all.map(\.status), [.unknown, .unknown, .unknown])
        XCTAssertNil(registry.snapshot.databases["other"])
    }

    func testBanKeepsReadsAwayAndSurvivesHealthUpdates() {
        let registry = registry()
        registry.update([up(replica1), up(replica2)])
        let now = NIODeadline.now()
        registry.ban(id(replica1), until: now + .seconds(60))
        registry.update([up(replica1), up(replica2)])
        for _ in 0..<3 {
            XCTAssertEqual(registry.chooseReplica(database: "app", now: now) { _ in 0 }?.id.address, replica2)
        }
        XCTAssertEqual(registry.chooseReplica(database: "app", now: now + .seconds(61)) { _ in 0 }.map { _ in true }, true)
        XCTAssertEqual(registry.counters.bans, [id(replica1): 1])
        registry.ban(id(BackendAddress(host: "elsewhere", port: 1)), until: now + .seconds(60))
        XCTAssertEqual(registry.counters.totalBans, 1, "a ban of an unknown backend is not counted")
    }

    func testFallbackDatabaseEntryServesOtherNames() {
        let registry = BackendRegistry()
        registry.configure([BackendTopology(database: "*", primary: primary, replicas: [replica1])], maxLagMs: 0)
        registry.update([BackendState(id: id(replica1, database: "*"), status: .up, inRecovery: true)])
        XCTAssertEqual(registry.chooseReplica(database: "anything") { _ in 0 }?.id.address, replica1)
        registry.update([BackendState(id: id(replica1, database: "*"), status: .down)])
        for index in 0..<50 { XCTAssertNil(registry.chooseReplica(database: "name\(index)") { _ in 0 }) }
        XCTAssertEqual(registry.counters.fallbacks, ["*": 50], "counted per entry, whatever names clients ask for")
    }

    func testCounters() {
        let registry = registry()
        registry.recordQuery(route: .replica, backend: id(replica1))
        registry.recordQuery(route: .replica, backend: id(replica1))
        registry.recordQuery(route: .primary, backend: id(primary, .primary))
        registry.recordRetry(database: "app")
        let counters = registry.counters
        XCTAssertEqual(counters.queriesPerRoute, [.replica: 2, .primary: 1])
        XCTAssertEqual(counters.queriesPerBackend[id(replica1)], 2)
        XCTAssertEqual(counters.totalRetries, 1)
    }

    func testConcurrentUpdatesAndChoicesStayConsistent() {
        let registry = registry()
        registry.update([up(replica1), up(replica2)])
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for round in 0..<2000 {
                if worker == 0 {
                    registry.update([up(replica1, lagMs: Double(round)), up(replica2)])
                } else {
                    XCTAssertNotNil(registry.chooseReplica(database: "app") { _ in 0 })
                    registry.recordQuery(route: .replica, backend: id(replica1))
                }
            }
        }
        XCTAssertEqual(registry.counters.queriesPerRoute[.replica], 6000)
        XCTAssertEqual(registry.snapshot.databases["app"]?.replicas[0].lagMs, 1999)
    }

    func testTopologyFromConfig() throws {
        let config = try ConfigLoader.parse(text: """
            [pgrelay]
            [databases]
            plain = host=10.0.0.1
            split = host=10.0.0.1,10.0.0.9 port=6000 replicas=10.0.0.2,10.0.0.3:6001
            """, path: "test.ini").config
        XCTAssertEqual(BackendTopology.of(config), [
            BackendTopology(database: "split", primary: BackendAddress(host: "10.0.0.1", port: 6000),
                            replicas: [BackendAddress(host: "10.0.0.2", port: 6000), BackendAddress(host: "10.0.0.3", port: 6001)]),
        ])
    }
}

extension RoutingRegistryTests {
    func testHealthEntriesForTheAdminAPI() {
        let registry = registry(maxLagMs: 100)
        registry.update([BackendState(id: id(primary, .primary), status: .up, inRecovery: false),
                         up(replica1, lagMs: 20), up(replica2, lagMs: 500)])
        XCTAssertEqual(registry.snapshot.healthEntries(), [
            BackendHealth(database: "app", host: "127.0.0.1", port: 5432, role: "primary", up: true, lagMs: nil),
            BackendHealth(database: "app", host: "127.0.0.1", port: 5433, role: "replica", up: true, lagMs: 20),
            BackendHealth(database: "app", host: "127.0.0.1", port: 5434, role: "replica", up: false, lagMs: 500),
        ])
    }
}
