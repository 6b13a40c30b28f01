import NIOCore
import XCTest
@testable import PGRelayCore

final class PrimaryDiscoveryTests: XCTestCase {
    private let a = BackendAddress(host: "10.0.0.1", port: 5432)
    private let b = BackendAddress(host: "10.0.0.2", port: 5432)
    private let c = BackendAddress(host: "10.0.0.3", port: 5432)
    private typealias Outcome = Result<HealthCheck.Probe, HealthCheck.ProbeError>

    private let primary: Outcome = .success(HealthCheck.Probe(inRecovery: false, currentPosition: WALPosition(parsing: "0/3000000"),
                                                              timeline: 1))
    private let promoted: Outcome = .success(HealthCheck.Probe(inRecovery: false, currentPosition: WALPosition(parsing: "0/3000100"),
                                                               timeline: 2))
    private let standby: Outcome = .success(HealthCheck.Probe(inRecovery: true, receivePosition: WALPosition(parsing: "0/3000000"),
                                                              replayPosition: WALPosition(parsing: "0/3000000"), replayAgeMs: 5))
    private let down: Outcome = .failure(HealthCheck.ProbeError("connect failed: connection refused"))

    private func round(_ previous: DiscoveredDatabase, _ outcomes: [Outcome], at wallClock: Double = 1000)
        -> (DiscoveredDatabase, [PrimaryDiscovery.Event]) {
        PrimaryDiscovery.evaluate(previous: previous, outcomes: outcomes, maxLagMs: 0, now: .now(), wallClock: wallClock)
    }

    /// A, B, C in list order, after a first round where A is the primary.
    private func started() -> DiscoveredDatabase {
        round(DiscoveredDatabase(database: "app", hosts: [a, b, c]), [primary, standby, standby]).0
    }

    func testElectionFromOneRound() {
        struct Case {
            let name: String
            let outcomes: [Result<HealthCheck.Probe, HealthCheck.ProbeError>]
            let verdict: PrimaryVerdict
        }
        let cases = [
            Case(name: "first server primary", outcomes: [primary, standby, standby], verdict: .primary(a)),
            Case(name: "last server primary", outcomes: [standby, standby, primary], verdict: .primary(c)),
            Case(name: "primary among failures", outcomes: [down, primary, down], verdict: .primary(b)),
            Case(name: "all standbys", outcomes: [standby, standby, standby],
                 verdict: .none(reason: "no primary: every server that answered is in recovery")),
            Case(name: "all down", outcomes: [down, down, down], verdict: .none(reason: "no primary: no server answered its check")),
            Case(name: "two primaries", outcomes: [primary, promoted, standby], verdict: .splitBrain([a, b])),
            Case(name: "three primaries", outcomes: [primary, promoted, primary], verdict: .splitBrain([a, b, c])),
        ]
        for testCase in cases {
            let (state, events) = round(DiscoveredDatabase(database: "app", hosts: [a, b, c]), testCase.outcomes)
            XCTAssertEqual(state.verdict, testCase.verdict, testCase.name)
            XCTAssertEqual(state.failovers, 0, "a first election is no failover: \(testCase.name)")
            if let elected = testCase.verdict.primary {
                XCTAssertEqual(events.last, .primaryFound(elected), testCase.name)
                XCTAssertEqual(DatabaseBackends(discovery: state).primary.id.address, elected, testCase.name)
            }
        }
    }

    func testRolesFollowTheServersAnswers() {
        let state = started()
        XCTAssertEqual(state.members.map(\.id.role), [.primary, .replica, .replica])
        XCTAssertEqual(state.members.map(\.status), [.up, .up, .up])
        XCTAssertEqual(state.members.map(\.roleChangedAt), [1000, 1000, 1000])
        XCTAssertEqual(state.members[0].timeline, 1)
        let backends = DatabaseBackends(discovery: state)
        XCTAssertEqual(backends.replicas.map(\.id.address), [b, c])
        XCTAssertEqual(backends.all.map(\.id.address), [a, b, c])
    }

    func testUnplannedFailover() {
        // A stops answering: no primary, writes wait; the registry names A in the reason.
        let (lost, lostEvents) = round(started(), [down, standby, standby], at: 1001)
        XCTAssertEqual(lost.verdict, .none(reason: "no primary: 10.0.0.1:5432 (the primary) failed its check: connect failed: connection refused"))
        XCTAssertEqual(lostEvents, [.primaryLost(reason: "no primary: 10.0.0.1:5432 (the primary) failed its check: connect failed: connection refused")])
        XCTAssertEqual(lost.members[0].id.role, .primary, "a server that does not answer keeps its last role")
        XCTAssertEqual(lost.members[0].status, .down)
        let standIn = DatabaseBackends(discovery: lost).primary
        XCTAssertEqual(standIn.status, .down)
        XCTAssertEqual(standIn.id.address, a)

        // B is promoted: it takes the writes; one failover, a role change logged.
        let (moved, events) = round(lost, [down, promoted, standby], at: 1003)
        XCTAssertEqual(moved.verdict, .primary(b))
        XCTAssertEqual(moved.failovers, 1)
        XCTAssertEqual(moved.primaryChangedAt, 1003)
        XCTAssertEqual(events, [.roleChanged(b, from: .replica, to: .primary), .failover(from: a, to: b)])
        XCTAssertEqual(moved.members[1].roleChangedAt, 1003)
        XCTAssertEqual(moved.members[2].roleChangedAt, 1000, "C did not change")
        XCTAssertEqual(DatabaseBackends(discovery: moved).replicas.map(\.id.address), [c])

        // A returns as a standby of B: a role change, no second failover.
        let (rejoined, rejoinEvents) = round(moved, [standby, promoted, standby], at: 1010)
        XCTAssertEqual(rejoined.verdict, .primary(b))
        XCTAssertEqual(rejoined.failovers, 1)
        XCTAssertEqual(rejoinEvents, [.roleChanged(a, from: .primary, to: .replica)])
        XCTAssertEqual(DatabaseBackends(discovery: rejoined).replicas.map(\.id.address), [a, c])
    }

    func testPrimaryBlipIsNoFailover() {
        let (lost, _) = round(started(), [down, standby, standby])
        let (back, events) = round(lost, [primary, standby, standby])
        XCTAssertEqual(back.verdict, .primary(a))
        XCTAssertEqual(back.failovers, 0)
        XCTAssertEqual(events, [], "the primary coming back after a failed check is not news")
    }

    func testPlannedSwitchoverThroughADemotedPrimary() {
        // The old primary already runs as a standby when the new one is promoted.
        let (demoted, demotedEvents) = round(started(), [standby, standby, standby])
        XCTAssertEqual(demoted.verdict, .none(reason: "no primary: 10.0.0.1:5432 (the primary) is in recovery and no other server is a primary"))
        XCTAssertEqual(demotedEvents.first, .roleChanged(a, from: .primary, to: .replica))
        let (switched, events) = round(demoted, [standby, standby, promoted])
        XCTAssertEqual(switched.verdict, .primary(c))
        XCTAssertEqual(events.last, .failover(from: a, to: c))
    }

    func testSplitBrainStopsWritesAndSaysWhy() {
        let (split, events) = round(started(), [primary, promoted, standby])
        XCTAssertEqual(split.verdict, .splitBrain([a, b]))
        XCTAssertEqual(events, [.roleChanged(b, from: .replica, to: .primary), .splitBrain([a, b])])
        XCTAssertEqual(split.members[0].status, .splitBrain)
        XCTAssertEqual(split.members[1].status, .splitBrain)
        XCTAssertTrue(split.members[0].lastError?.hasPrefix("split_brain: 2 servers of database \"app\" are primaries") == true)
        let backends = DatabaseBackends(discovery: split)
        XCTAssertEqual(backends.primary.status, .splitBrain)
        XCTAssertFalse(backends.primary.canServeReads(maxLagMs: 0, now: .now()))
        XCTAssertEqual(split.lastPrimary, a, "the split does not elect anyone")

        // Still split in the next round: no new event.
        XCTAssertEqual(round(split, [primary, promoted, standby]).1, [])
        // The old primary is stopped: B takes over, a failover from A.
        let (resolved, resolvedEvents) = round(split, [down, promoted, standby])
        XCTAssertEqual(resolved.verdict, .primary(b))
        XCTAssertEqual(resolvedEvents, [.failover(from: a, to: b)])
        XCTAssertEqual(resolved.members[1].status, .up)
    }

    func testReplicaLagIsMeasuredAgainstTheElectedPrimary() {
        let lagging: Outcome = .success(HealthCheck.Probe(inRecovery: true, receivePosition: WALPosition(parsing: "0/2000000"),
                                                          replayPosition: WALPosition(parsing: "0/2000000"), replayAgeMs: 9000))
        let (state, _) = PrimaryDiscovery.evaluate(previous: DiscoveredDatabase(database: "app", hosts: [a, b]),
                                                   outcomes: [primary, lagging], maxLagMs: 1000, now: .now(), wallClock: 1)
        XCTAssertEqual(state.members[1].status, .lagging)
        XCTAssertEqual(state.members[1].lagBytes, 0x1000000)
    }

    func testReloadKeepsWhatIsKnownOfServersStillListed() {
        let state = round(started(), [down, promoted, standby]).0
        let relisted = state.relisted([b, c])
        XCTAssertEqual(relisted.verdict, .primary(b))
        XCTAssertEqual(relisted.failovers, 1)
        XCTAssertEqual(relisted.members.map(\.id.role), [.primary, .replica])
        let withoutPrimary = state.relisted([a, c])
        XCTAssertNil(withoutPrimary.lastPrimary)
        XCTAssertNil(withoutPrimary.verdict.primary)
    }

    func testRegistryTracksAnElectionAndKeepsBans() {
        let registry = BackendRegistry()
        registry.configure([BackendTopology(database: "app", primary: a, replicas: [], discovered: [a, b, c])], maxLagMs: 0)
        XCTAssertEqual(registry.primaryVerdict(database: "app")?.primary, nil)
        registry.update(started())
        XCTAssertEqual(registry.primaryVerdict(database: "app"), .primary(a))
        let replica = BackendID(database: "app", address: b, role: .replica)
        registry.ban(replica, until: .now() + .seconds(60))
        XCTAssertEqual(registry.chooseReplica(database: "app") { _ in 0 }?.id.address, c, "B is banned")
        registry.update(round(started(), [primary, standby, standby]).0)
        XCTAssertEqual(registry.chooseReplica(database: "app") { _ in 0 }?.id.address, c, "the ban outlives a round")
        XCTAssertNil(registry.primaryVerdict(database: "other"))
        let health = registry.snapshot.healthEntries()
        XCTAssertEqual(health.map(\.role), ["primary", "replica", "replica"])
        XCTAssertEqual(health.map(\.up), [true, false, true])
    }
}
