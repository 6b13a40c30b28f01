import Foundation
import XCTest
@testable import PGRelayCore

final class StatsHistoryTests: XCTestCase {
    private func point(_ t: Double) -> QueryHistoryPoint {
        QueryHistoryPoint(endUnixSeconds: t, seconds: 10, overall: .empty, byRoute: [:], byDatabase: [:])
    }

    func testRingKeepsTheNewestPointsOldestFirst() {
        let cases: [(capacity: Int, appended: Int, expected: [Double])] = [
            (3, 0, []),
            (3, 2, [1, 2]),
            (3, 3, [1, 2, 3]),
            (3, 7, [5, 6, 7]),
            (1, 4, [4]),
            (0, 2, [2]),   // a capacity below 1 keeps one point
        ]
        for (capacity, appended, expected) in cases {
            var history = QueryHistory(capacity: capacity)
            for t in 0 ..< appended { history.append(point(Double(t + 1))) }
            XCTAssertEqual(history.points.map(\.endUnixSeconds), expected, "capacity \(capacity), \(appended) appended")
        }
        var history = QueryHistory(capacity: 2)
        history.append(point(1))
        history.removeAll()
        XCTAssertTrue(history.points.isEmpty)
    }

    func testLastCompletedSlotHoldsOnlyThatSlotsQueriesOverAllShards() throws {
        let clock = ManualClock(0)
        let registry = QueryStatsRegistry(shardCount: 2, settings: StatsSettings(windowSeconds: 60), clock: clock.function)
        XCTAssertEqual(registry.slotNanos, 10_000_000_000)
        XCTAssertNil(registry.lastCompletedSlot(now: clock.now), "no slot has ended yet")
        clock.advance(seconds: 1)
        registry.shard(at: 0).record(sample(ms: 5))                             // slot 0
        clock.advance(seconds: 10)
        registry.shard(at: 0).record(sample(ms: 2))                             // slot 1
        registry.shard(at: 1).record(sample(ms: 200, route: .replica))          // slot 1, other loop
        registry.shard(at: 1).record(sample(ms: 4, database: "other"))          // slot 1
        clock.advance(seconds: 10)
        registry.shard(at: 0).record(sample(ms: 900))                           // slot 2: not complete yet
        let slot = try XCTUnwrap(registry.lastCompletedSlot(now: clock.now))
        XCTAssertEqual(slot.epoch, 1)
        XCTAssertEqual(slot.overall.count, 3)
        XCTAssertEqual(slot.overall.slow, 1)
        XCTAssertEqual(slot.overall.maxMs, 200, accuracy: 0.5)
        XCTAssertEqual(slot.byRoute[.primary]?.count, 2)
        XCTAssertEqual(slot.byRoute[.replica]?.count, 1)
        XCTAssertEqual(slot.byDatabase.keys.sorted(), ["appdb", "other"])
        XCTAssertEqual(slot.byDatabase["appdb"]?.count, 2)
        clock.advance(seconds: 30)
        let quiet = try XCTUnwrap(registry.lastCompletedSlot(now: clock.now))
        XCTAssertEqual(quiet.overall.count, 0, "a slot without queries is empty, not the old one again")
        XCTAssertEqual(quiet.byRoute[.replica], .empty, "both routes are always there")
    }

    func testHistoryDocument() throws {
        let summary = LatencySummary(count: 10, slow: 1, errors: 0, minMs: 1, avgMs: 2, maxMs: 150,
                                     p50Ms: 1.5, p90Ms: 3, p95Ms: 4, p99Ms: 150)
        let points = [QueryHistoryPoint(endUnixSeconds: 1_764_500_010, seconds: 10, overall: summary,
                                        byRoute: [.primary: summary], byDatabase: ["appdb": summary])]
        let json = QueryStatsJSON.history(points, settings: StatsSettings(slowThresholdMs: 100, windowSeconds: 60))
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.serialized.utf8)) as? [String: Any])
        XCTAssertEqual(document["interval_s"] as? Double, 10)
        XCTAssertEqual(document["threshold_ms"] as? Double, 100)
        XCTAssertEqual(document["degraded_ratio"] as? Double, 0.05)
        let first = try XCTUnwrap((document["points"] as? [[String: Any]])?.first)
        XCTAssertEqual(first["t"] as? Double, 1_764_500_010)
        XCTAssertEqual(first["total"] as? Int, 10)
        XCTAssertEqual((first["latency_ms"] as? [String: Any])?["p99"] as? Double, 150)
        XCTAssertNotNil((first["by_route"] as? [String: Any])?["replica"], "both routes")
        XCTAssertNotNil((first["by_database"] as? [String: Any])?["appdb"])
    }
}
