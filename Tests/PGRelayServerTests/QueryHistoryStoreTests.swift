import Foundation
import PGRelayCore
import XCTest
@testable import PGRelayServer

final class QueryHistoryStoreTests: XCTestCase {
    func testEachCompletedSlotIsAddedOnceWithItsWallClockEnd() {
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(windowSeconds: 60), clock: { 0 })
        let store = QueryHistoryStore()
        let second: UInt64 = 1_000_000_000
        let wall = Date(timeIntervalSince1970: 1_000_000)
        let cases: [(monotonic: UInt64, points: Int, label: String)] = [
            (5 * second, 0, "inside the first slot: nothing has ended"),
            (12 * second, 1, "slot 0 ended at 10 s"),
            (15 * second, 1, "still slot 1: slot 0 is not added again"),
            (21 * second, 2, "slot 1 ended"),
            (55 * second, 3, "a jump adds the last ended slot only"),
        ]
        for (monotonic, points, label) in cases {
            registry.shard(at: 0).record(QuerySample(durationNanos: 1_000_000, database: "appdb", user: "app", route: .primary,
                                                     fingerprint: nil), at: monotonic)
            store.sample(registry, monotonicNow: monotonic, wallNow: wall.addingTimeInterval(Double(monotonic / second)))
            XCTAssertEqual(store.points.count, points, label)
        }
        let ends = store.points.map(\.endUnixSeconds)
        XCTAssertEqual(ends, [1_000_010, 1_000_020, 1_000_050], "slot ends on the wall clock")
        XCTAssertEqual(store.points.map(\.overall.count), [1, 2, 0], "each point holds its own slot's queries: slot 4 (40-50 s) saw none")
        XCTAssertEqual(store.points.first?.seconds, 10)
    }
}
