import Foundation
import XCTest
@testable import PGRelayCore

final class StatsFingerprintTests: XCTestCase {
    func testLeastRecentlyUsedIsEvicted() {
        var table = FingerprintTable(capacity: 3)
        for key in ["a", "b", "c"] { table.record(fingerprint: key, micros: 10, isSlow: false, isError: false) }
        table.record(fingerprint: "a", micros: 10, isSlow: false, isError: false)   // a is now newest
        table.record(fingerprint: "d", micros: 10, isSlow: true, isError: false)    // evicts b
        XCTAssertEqual(table.keysByRecency, ["d", "a", "c"])
        XCTAssertEqual(table.count, 3)
        table.record(fingerprint: "e", micros: 10, isSlow: false, isError: false)   // evicts c
        XCTAssertEqual(table.keysByRecency, ["e", "d", "a"])
        // The reused slot starts from zero.
        guard let slot = table.keys.firstIndex(of: "e") else { return XCTFail("e missing") }
        XCTAssertEqual(table.calls[slot], 1)
        XCTAssertEqual(table.slow[slot], 0)
        XCTAssertEqual(table.withBuckets(atSlot: slot) { $0.reduce(0, +) }, 1)
    }

    func testCountsAccumulatePerFingerprint() {
        var table = FingerprintTable(capacity: 10)
        table.record(fingerprint: "q", micros: 1000, isSlow: false, isError: false)
        table.record(fingerprint: "q", micros: 200_000, isSlow: true, isError: true)
        let slot = 0
        XCTAssertEqual(table.calls[slot], 2)
        XCTAssertEqual(table.slow[slot], 1)
        XCTAssertEqual(table.errors[slot], 1)
        XCTAssertEqual(table.maxMicros[slot], 200_000)
        XCTAssertEqual(table.sumMicros[slot], 201_000)
    }

    func testShrinkKeepsTheMostRecent() {
        var table = FingerprintTable(capacity: 5)
        for key in ["a", "b", "c", "d", "e"] { table.record(fingerprint: key, micros: 5, isSlow: key == "b", isError: false) }
        table.record(fingerprint: "b", micros: 5, isSlow: false, isError: false)
        table.resize(capacity: 2)
        XCTAssertEqual(table.keysByRecency, ["b", "e"])
        let slot = table.keys.firstIndex(of: "b")!
        XCTAssertEqual(table.calls[slot], 2, "counts survive the shrink")
        XCTAssertEqual(table.slow[slot], 1)
        table.record(fingerprint: "f", micros: 5, isSlow: false, isError: false)
        XCTAssertEqual(table.keysByRecency, ["f", "b"])
        table.resize(capacity: 4)
        table.record(fingerprint: "g", micros: 5, isSlow: false, isError: false)
        XCTAssertEqual(table.keysByRecency, ["g", "f", "b"])
    }

    func testZeroCapacityRecordsNothing() {
        var table = FingerprintTable(capacity: 0)
        table.record(fingerprint: "a", micros: 1, isSlow: true, isError: false)
        XCTAssertEqual(table.count, 0)
    }

    func testOverlongFingerprintsAreCutAndStillMatch() {
        var table = FingerprintTable(capacity: 4)
        let long = "SELECT " + String(repeating: "é", count: 2000)
        table.record(fingerprint: long, micros: 1, isSlow: false, isError: false)
        table.record(fingerprint: long, micros: 1, isSlow: false, isError: false)
        XCTAssertEqual(table.count, 1)
        XCTAssertEqual(table.calls[0], 2)
        XCTAssertLessThanOrEqual(table.keys[0].utf8.count, FingerprintTable.maxKeyBytes)
        XCTAssertTrue(table.keys[0].hasSuffix("..."))
    }

    func testTopSlowOrdersBySlowThenP99AndMergesShards() {
        let registry = QueryStatsRegistry(shardCount: 2, settings: StatsSettings(slowThresholdMs: 100), clock: ManualClock().function)
        // "sleep" is slow 3 times over two shards, "scan" twice but slower, "fast" never.
        for (index, ms) in [150.0, 160, 170].enumerated() { registry.shard(at: index).record(sample(ms: ms, fingerprint: "SELECT pg_sleep($1)")) }
        for ms in [900.0, 950] { registry.shard(at: 1).record(sample(ms: ms, fingerprint: "SELECT * FROM big")) }
        for ms in [300.0, 1] { registry.shard(at: 0).record(sample(ms: ms, fingerprint: "SELECT * FROM other")) }
        for _ in 0 ..< 50 { registry.shard(at: 0).record(sample(ms: 1, fingerprint: "SELECT $1")) }
        let top = registry.snapshot().topSlow
        XCTAssertEqual(top.map(\.fingerprint), ["SELECT pg_sleep($1)", "SELECT * FROM big", "SELECT * FROM other", "SELECT $1"])
        XCTAssertEqual(top[0].calls, 3)
        XCTAssertEqual(top[0].slow, 3)
        XCTAssertEqual(top[0].maxMs, 170, accuracy: 0.001)
        XCTAssertEqual(top[0].p50Ms, 160, accuracy: 160 / 16)
        XCTAssertEqual(top[3].calls, 50)
    }

    func testTopSlowIsLimitedAndTiesGoByP99() {
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(slowThresholdMs: 1_000_000),
                                          clock: ManualClock().function)
        // No query is slow; latencies 20 % apart land in distinct buckets, so p99 decides the order.
        for index in 0 ..< 50 {
            registry.shard(at: 0).record(sample(ms: pow(1.2, Double(index)), fingerprint: "SELECT \(index)"))
        }
        let top = registry.snapshot().topSlow
        XCTAssertEqual(top.count, QueryStatsRegistry.topSlowLimit)
        XCTAssertEqual(top.map(\.fingerprint), (30 ..< 50).reversed().map { "SELECT \($0)" })
    }
}
