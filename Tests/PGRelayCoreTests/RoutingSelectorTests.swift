import NIOCore
import XCTest
@testable import PGRelayCore

final class RoutingSelectorTests: XCTestCase {
    private let now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    private func replica(_ port: Int, status: BackendState.Status = .up, inRecovery: Bool? = true, lagMs: Double = 0,
                         bannedFor seconds: Int64? = nil) -> BackendState {
        BackendState(id: BackendID(database: "app", address: BackendAddress(host: "127.0.0.1", port: port), role: .replica),
                      status: status, inRecovery: inRecovery, lagMs: lagMs,
                      bannedUntil: seconds.map { now + .seconds($0) })
    }

    func testChoiceTable() {
        struct Case {
            let name: String
            let candidates: [ReplicaCandidate]
            let maxLagMs: Double
            let ticket: UInt64
            let expected: Int?
        }
        let cases: [Case] = [
            Case(name: "no replicas", candidates: [], maxLagMs: 0, ticket: 0, expected: nil),
            Case(name: "least outstanding wins", candidates: [
                ReplicaCandidate(health: replica(1), outstanding: 3), ReplicaCandidate(health: replica(2), outstanding: 1),
            ], maxLagMs: 0, ticket: 0, expected: 1),
            Case(name: "tie, ticket 0 takes the first", candidates: [
                ReplicaCandidate(health: replica(1), outstanding: 2), ReplicaCandidate(health: replica(2), outstanding: 2),
            ], maxLagMs: 0, ticket: 0, expected: 0),
            Case(name: "tie, ticket 1 takes the second", candidates: [
                ReplicaCandidate(health: replica(1), outstanding: 2), ReplicaCandidate(health: replica(2), outstanding: 2),
            ], maxLagMs: 0, ticket: 1, expected: 1),
            Case(name: "ties among the least busy only", candidates: [
                ReplicaCandidate(health: replica(1), outstanding: 0), ReplicaCandidate(health: replica(2), outstanding: 5),
                ReplicaCandidate(health: replica(3), outstanding: 0),
            ], maxLagMs: 0, ticket: 1, expected: 2),
            Case(name: "down replica skipped although idle", candidates: [
                ReplicaCandidate(health: replica(1, status: .down), outstanding: 0), ReplicaCandidate(health: replica(2), outstanding: 9),
            ], maxLagMs: 0, ticket: 0, expected: 1),
            Case(name: "unchecked replica gets no reads", candidates: [
                ReplicaCandidate(health: replica(1, status: .unknown, inRecovery: nil), outstanding: 0),
            ], maxLagMs: 0, ticket: 0, expected: nil),
            Case(name: "promoted replica gets no reads", candidates: [
                ReplicaCandidate(health: replica(1, status: .wrongRole, inRecovery: false), outstanding: 0),
                ReplicaCandidate(health: replica(2, status: .up, inRecovery: false), outstanding: 0),
            ], maxLagMs: 0, ticket: 0, expected: nil),
            Case(name: "lag over the limit", candidates: [
                ReplicaCandidate(health: replica(1, lagMs: 501), outstanding: 0), ReplicaCandidate(health: replica(2, lagMs: 500), outstanding: 4),
            ], maxLagMs: 500, ticket: 0, expected: 1),
            Case(name: "lag ignored when the limit is 0", candidates: [
                ReplicaCandidate(health: replica(1, lagMs: 1e9), outstanding: 0),
            ], maxLagMs: 0, ticket: 0, expected: 0),
            Case(name: "unmeasurable lag over any limit", candidates: [
                ReplicaCandidate(health: replica(1, lagMs: .infinity), outstanding: 0),
            ], maxLagMs: 10_000, ticket: 0, expected: nil),
            Case(name: "lagging status", candidates: [
                ReplicaCandidate(health: replica(1, status: .lagging, lagMs: 2000), outstanding: 0),
            ], maxLagMs: 1000, ticket: 0, expected: nil),
            Case(name: "banned replica skipped", candidates: [
                ReplicaCandidate(health: replica(1, bannedFor: 5), outstanding: 0), ReplicaCandidate(health: replica(2), outstanding: 1),
            ], maxLagMs: 0, ticket: 0, expected: 1),
            Case(name: "expired ban", candidates: [
                ReplicaCandidate(health: replica(1, bannedFor: -1), outstanding: 0), ReplicaCandidate(health: replica(2), outstanding: 1),
            ], maxLagMs: 0, ticket: 0, expected: 0),
            Case(name: "all down", candidates: [
                ReplicaCandidate(health: replica(1, status: .down), outstanding: 0),
                ReplicaCandidate(health: replica(2, status: .lagging), outstanding: 0),
            ], maxLagMs: 0, ticket: 7, expected: nil),
            Case(name: "negative outstanding counts as 0", candidates: [
                ReplicaCandidate(health: replica(1), outstanding: -4), ReplicaCandidate(health: replica(2), outstanding: 0),
            ], maxLagMs: 0, ticket: 1, expected: 1),
            Case(name: "huge ticket", candidates: [
                ReplicaCandidate(health: replica(1), outstanding: 0), ReplicaCandidate(health: replica(2), outstanding: 0),
                ReplicaCandidate(health: replica(3), outstanding: 0),
            ], maxLagMs: 0, ticket: UInt64.max, expected: 0),
        ]
        for testCase in cases {
            let chosen = ReplicaSelector(maxLagMs: testCase.maxLagMs).choose(from: testCase.candidates, ticket: testCase.ticket, now: now)
            XCTAssertEqual(chosen, testCase.expected, testCase.name)
        }
    }

    func testRoundRobinIsFairAmongEqualReplicas() {
        let candidates = (1...3).map { ReplicaCandidate(health: replica($0), outstanding: 0) }
        let selector = ReplicaSelector(maxLagMs: 0)
        var picks = [Int](repeating: 0, count: 3)
        for ticket in 0..<300 as Range<UInt64> {
            guard let index = selector.choose(from: candidates, ticket: ticket, now: now) else { return XCTFail("no choice") }
            picks[index] += 1
        }
        XCTAssertEqual(picks, [100, 100, 100])
    }

    func testRoundRobinSkipsUnhealthyAndStaysFair() {
        let candidates = [
            ReplicaCandidate(health: replica(1), outstanding: 0),
            ReplicaCandidate(health: replica(2, status: .down), outstanding: 0),
            ReplicaCandidate(health: replica(3), outstanding: 0),
        ]
        let selector = ReplicaSelector(maxLagMs: 0)
        let picks = (0..<4 as Range<UInt64>).map { selector.choose(from: candidates, ticket: $0, now: now) }
        XCTAssertEqual(picks, [0, 2, 0, 2])
    }

    func testPrimaryIsNeverChosenForReads() {
        var primary = replica(1)
        primary.id.role = .primary
        XCTAssertNil(ReplicaSelector(maxLagMs: 0).choose(from: [ReplicaCandidate(health: primary, outstanding: 0)], ticket: 0, now: now))
    }
}
