import Foundation
import XCTest
@testable import PGRelayCore

final class StatsWindowTests: XCTestCase {
    func testLayoutUsesAtMostSixSlotsCoveringTheWindow() {
        let cases: [(window: Int, slots: Int, slotSeconds: Double)] = [
            (60, 6, 10), (1, 1, 1), (3, 3, 1), (7, 6, 7.0 / 6), (3600, 6, 600),
        ]
        for (window, slots, slotSeconds) in cases {
            let layout = WindowLayout(windowSeconds: window)
            XCTAssertEqual(layout.slotCount, slots, "window \(window)")
            XCTAssertEqual(Double(layout.slotNanos) / 1e9, slotSeconds, accuracy: 1e-6, "window \(window)")
        }
    }

    func testSamplesLeaveTheWindowBeforeTheyAreWindowSecondsOld() {
        let clock = ManualClock(0)
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(windowSeconds: 60), clock: clock.function)
        registry.shard(at: 0).record(sample(ms: 500))
        XCTAssertEqual(registry.snapshot().overall.count, 1)
        clock.advance(seconds: 49.9)
        XCTAssertEqual(registry.snapshot().overall.count, 1, "still inside the window")
        clock.advance(seconds: 10.1)   // now exactly 60 s after the sample
        let later = registry.snapshot()
        XCTAssertEqual(later.overall.count, 0, "gone once the window has passed")
        XCTAssertEqual(later.health, .healthy)
        XCTAssertEqual(later.totals.count, 1, "all-time totals keep it")
        XCTAssertEqual(later.routeTotals.first?.slow, 1)
    }

    func testWindowRotatesSlotBySlot() {
        let clock = ManualClock(0)
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(windowSeconds: 60), clock: clock.function)
        let shard = registry.shard(at: 0)
        // One sample per 10 s slot for two minutes: the window holds the last six.
        for second in stride(from: 0, to: 120, by: 10) {
            shard.record(sample(ms: Double(second + 1)))
            let expected = min(second / 10 + 1, 6)
            XCTAssertEqual(registry.snapshot().overall.count, UInt64(expected), "at \(second) s")
            clock.advance(seconds: 10)
        }
        let snapshot = registry.snapshot(now: clock.now - 1)
        XCTAssertEqual(snapshot.overall.minMs, 61, "the oldest live sample was recorded at 60 s")
        XCTAssertEqual(snapshot.overall.maxMs, 111)
    }

    func testSlowAfterWindowOfFastQueriesIsHealthyAgain() {
        let clock = ManualClock(0)
        let registry = QueryStatsRegistry(shardCount: 2, settings: StatsSettings(windowSeconds: 6), clock: clock.function)
        for index in 0 ..< 10 { registry.shard(at: index).record(sample(ms: 500)) }
        XCTAssertEqual(registry.snapshot().health, .unhealthy)
        for _ in 0 ..< 7 {
            clock.advance(seconds: 1)
            for index in 0 ..< 10 { registry.shard(at: index).record(sample(ms: 1)) }
        }
        let snapshot = registry.snapshot()
        XCTAssertEqual(snapshot.overall.slow, 0)
        XCTAssertEqual(snapshot.health, .healthy)
    }

    func testIdleSeriesAreDroppedAndComeBack() {
        let clock = ManualClock(0)
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(windowSeconds: 60), clock: clock.function)
        let shard = registry.shard(at: 0)
        shard.record(sample(ms: 2, database: "old", user: "olduser"))
        clock.advance(seconds: 70)
        shard.record(sample(ms: 3, database: "new", user: "newuser"))
        let state = shard.capture()
        XCTAssertEqual(state.routeWindows.keys.map(\.database), ["new"], "the idle series freed its histograms")
        XCTAssertEqual(Set(state.userWindows.keys), ["newuser"])
        XCTAssertEqual(state.routeCounters.count, 2, "all-time counters stay")
        clock.advance(seconds: 1)
        shard.record(sample(ms: 4, database: "old", user: "olduser"))
        XCTAssertEqual(registry.snapshot().byDatabase["old"]?.count, 1)
    }

    func testReconfigureWithNewWindowEmptiesItButKeepsTotals() {
        let clock = ManualClock(0)
        let registry = QueryStatsRegistry(shardCount: 2, settings: StatsSettings(windowSeconds: 60), clock: clock.function)
        registry.shard(at: 0).record(sample(ms: 5))
        registry.reconfigure(StatsSettings(slowThresholdMs: 1, windowSeconds: 30))
        var snapshot = registry.snapshot()
        XCTAssertEqual(snapshot.windowSeconds, 30)
        XCTAssertEqual(snapshot.thresholdMs, 1)
        XCTAssertEqual(snapshot.overall.count, 0)
        XCTAssertEqual(snapshot.totals.count, 1)
        registry.shard(at: 1).record(sample(ms: 5))
        snapshot = registry.snapshot()
        XCTAssertEqual(snapshot.overall.slow, 1, "the new threshold applies")
        registry.reset()
        XCTAssertEqual(registry.snapshot().totals.count, 0)
    }

    func testDisabledStatsRecordNothing() {
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(enabled: false), clock: ManualClock().function)
        registry.shard(at: 0).record(sample(ms: 5, fingerprint: "SELECT $1"))
        let snapshot = registry.snapshot()
        XCTAssertEqual(snapshot.totals.count, 0)
        XCTAssertEqual(snapshot.fingerprintCount, 0)
        XCTAssertFalse(registry.shard(at: 0).isEnabled)
        registry.reconfigure(StatsSettings(enabled: true))
        XCTAssertTrue(registry.shard(at: 0).isEnabled)
        registry.shard(at: 0).record(sample(ms: 5, fingerprint: "SELECT $1"))
        XCTAssertEqual(registry.snapshot().totals.count, 1)
    }

    func testLabelsBeyondTheCapShareTheOverflowLabel() {
        let settings = StatsSettings(maxDatabaseRoutes: 2, maxUsers: 1)
        let registry = QueryStatsRegistry(shardCount: 1, settings: settings, clock: ManualClock().function)
        for name in ["a", "b", "c", "d"] { registry.shard(at: 0).record(sample(ms: 1, database: name, user: "user_" + name)) }
        let snapshot = registry.snapshot()
        XCTAssertEqual(Set(snapshot.byDatabase.keys), ["a", "b", QueryStatsShard.overflowLabel])
        XCTAssertEqual(snapshot.byDatabase[QueryStatsShard.overflowLabel]?.count, 2)
        XCTAssertEqual(Set(snapshot.byUser.keys), ["user_a", QueryStatsShard.overflowLabel])
    }

    /// Consecutive samples of one key reuse the previous slot; interleaved keys, routes and
    /// overflowed names must still land where a lookup would put them.
    func testInterleavedLabelsAreCountedUnderTheirOwnKeys() {
        let settings = StatsSettings(maxDatabaseRoutes: 3, maxUsers: 2)
        let registry = QueryStatsRegistry(shardCount: 1, settings: settings, clock: ManualClock().function)
        let shard = registry.shard(at: 0)
        let plan: [(database: String, route: QueryRoute, user: String, fingerprint: String)] = [
            ("a", .primary, "u1", "SELECT $1"), ("a", .primary, "u1", "SELECT $1"), ("a", .replica, "u1", "SELECT $2"),
            ("b", .primary, "u2", "SELECT $1"), ("a", .primary, "u1", "SELECT $2"), ("c", .primary, "u3", "SELECT $3"),
            ("d", .replica, "u4", "SELECT $3"), ("c", .primary, "u3", "SELECT $1"), ("b", .primary, "u2", "SELECT $2"),
        ]
        for step in plan {
            shard.record(sample(ms: 1, database: step.database, user: step.user, route: step.route, fingerprint: step.fingerprint))
        }
        let snapshot = registry.snapshot()
        let overflow = QueryStatsShard.overflowLabel
        // Three route slots: a/primary, a/replica, b/primary; c and d overflow (c twice, d once).
        XCTAssertEqual(snapshot.byDatabase["a"]?.count, 4)
        XCTAssertEqual(snapshot.byDatabase["b"]?.count, 2)
        XCTAssertEqual(snapshot.byDatabase[overflow]?.count, 3)
        XCTAssertNil(snapshot.byDatabase["c"])
        XCTAssertEqual(snapshot.byRoute[.replica]?.count, 2)
        XCTAssertEqual(snapshot.byUser["u1"]?.count, 4)
        XCTAssertEqual(snapshot.byUser["u2"]?.count, 2)
        XCTAssertEqual(snapshot.byUser[overflow]?.count, 3)
        let calls = Dictionary(uniqueKeysWithValues: snapshot.topSlow.map { ($0.fingerprint, $0.calls) })
        XCTAssertEqual(calls, ["SELECT $1": 4, "SELECT $2": 3, "SELECT $3": 2])
        XCTAssertEqual(snapshot.totals.count, UInt64(plan.count))
    }

    func testSettingsClampBadValues() {
        let settings = StatsSettings(slowThresholdMs: -.infinity, windowSeconds: -5, degradedRatio: .nan,
                                     unhealthyRatio: 0.01, maxFingerprints: -1, maxDatabaseRoutes: 0, maxUsers: 1_000_000)
        XCTAssertEqual(settings.slowThresholdMs, 100)
        XCTAssertEqual(settings.windowSeconds, 1)
        XCTAssertEqual(settings.degradedRatio, 0.05)
        XCTAssertEqual(settings.unhealthyRatio, 0.05, "unhealthy never below degraded")
        XCTAssertEqual(settings.maxFingerprints, 0)
        XCTAssertEqual(settings.maxDatabaseRoutes, 1)
        XCTAssertEqual(settings.maxUsers, StatsSettings.maxLabelKeysLimit)
        XCTAssertEqual(StatsSettings(windowSeconds: 100_000).windowSeconds, StatsSettings.maxWindowSeconds)
    }

    func testMemoryBoundAtDefaultsIsWithinBudget() {
        let bound = QueryStatsRegistry.memoryBoundBytes(settings: StatsSettings(), shardCount: 2)
        XCTAssertLessThanOrEqual(bound, 64 << 20)
        XCTAssertGreaterThan(bound, 32 << 20, "the bound counts the window histograms")
        XCTAssertLessThan(LatencyHistogram.footprintBytes, 100_000)
    }
}

final class StatsConcurrencyTests: XCTestCase {
    /// Loops record on their own shards while an admin thread keeps merging: nothing is lost or torn.
    func testRecordingWhileSnapshotting() {
        let registry = QueryStatsRegistry(shardCount: 2, settings: StatsSettings(), clock: ManualClock().function)
        let perShard = 5000
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            if worker == 2 {
                for _ in 0 ..< 20 {
                    let snapshot = registry.snapshot()
                    XCTAssertEqual(snapshot.overall.count, snapshot.byRoute.values.reduce(0) { $0 + $1.count })
                    XCTAssertLessThanOrEqual(snapshot.overall.count, UInt64(2 * perShard))
                }
            } else {
                let shard = registry.shard(at: worker)
                for index in 0 ..< perShard {
                    shard.record(sample(ms: Double(index % 50 + 1), database: "db\(index % 3)", user: "u\(worker)",
                                        route: index % 2 == 0 ? .primary : .replica, fingerprint: "SELECT \(index % 7)"))
                }
            }
        }
        let snapshot = registry.snapshot()
        XCTAssertEqual(snapshot.overall.count, UInt64(2 * perShard))
        XCTAssertEqual(snapshot.totals.count, UInt64(2 * perShard))
        XCTAssertEqual(snapshot.topSlow.reduce(0) { $0 + $1.calls }, UInt64(2 * perShard))
        XCTAssertEqual(Set(snapshot.byUser.keys), ["u0", "u1"])
    }
}
