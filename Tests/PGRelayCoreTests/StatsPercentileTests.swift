import Foundation
import XCTest
@testable import PGRelayCore

final class StatsPercentileTests: XCTestCase {
    /// The value at rank ceil(p/100 * n) of the sorted data: the definition HDR implements.
    private func oracle(_ sorted: [UInt64], _ percentile: Double) -> UInt64 {
        let rank = max(1, Int((percentile / 100 * Double(sorted.count)).rounded(.up)))
        return sorted[rank - 1]
    }

    func testWindowPercentilesMatchSortedOracleWithinHDRPrecision() {
        var generator = SeededGenerator(seed: 42)
        let clock = ManualClock()
        let registry = QueryStatsRegistry(shardCount: 2, settings: StatsSettings(), clock: clock.function)
        var micros: [UInt64] = []
        for index in 0 ..< 20_000 {
            // Log-uniform from 50 µs to 2 s: spans many HDR buckets.
            let value = UInt64(exp(Double.random(in: log(50.0) ... log(2_000_000.0), using: &generator)))
            micros.append(value)
            registry.shard(at: index).record(
                QuerySample(durationNanos: value * 1000, database: "appdb", user: "app", route: index % 3 == 0 ? .replica : .primary))
        }
        micros.sort()
        let summary = registry.snapshot().overall
        XCTAssertEqual(summary.count, UInt64(micros.count))
        let checks: [(Double, Double)] = [(50, summary.p50Ms), (90, summary.p90Ms), (95, summary.p95Ms), (99, summary.p99Ms)]
        for (percentile, reportedMs) in checks {
            let expected = Double(oracle(micros, percentile)) / 1000
            XCTAssertEqual(reportedMs, expected, accuracy: expected * 0.001 + 0.001, "p\(percentile)")
        }
        XCTAssertEqual(summary.minMs, Double(micros.first!) / 1000, accuracy: 0.001)
        XCTAssertEqual(summary.maxMs, Double(micros.last!) / 1000, accuracy: 0.001)
        let mean = Double(micros.reduce(0, +)) / Double(micros.count) / 1000
        XCTAssertEqual(summary.avgMs, mean, accuracy: mean * 1e-9 + 0.001)
        XCTAssertTrue(summary.minMs <= summary.p50Ms && summary.p50Ms <= summary.p90Ms && summary.p90Ms <= summary.p95Ms
            && summary.p95Ms <= summary.p99Ms && summary.p99Ms <= summary.maxMs)
    }

    func testRouteAndDatabaseSummariesPartitionTheOverallCount() {
        let registry = QueryStatsRegistry(shardCount: 3, settings: StatsSettings(), clock: ManualClock().function)
        for index in 0 ..< 300 {
            registry.shard(at: index).record(sample(ms: Double(index % 7 + 1), database: index % 2 == 0 ? "a" : "b",
                                                    user: "u\(index % 3)", route: index % 5 == 0 ? .replica : .primary))
        }
        let snapshot = registry.snapshot()
        XCTAssertEqual(snapshot.overall.count, 300)
        XCTAssertEqual(snapshot.byRoute[.primary]!.count + snapshot.byRoute[.replica]!.count, 300)
        XCTAssertEqual(snapshot.byRoute[.replica]!.count, 60)
        XCTAssertEqual(snapshot.byDatabase.values.reduce(0) { $0 + $1.count }, 300)
        XCTAssertEqual(Set(snapshot.byUser.keys), ["u0", "u1", "u2"])
        XCTAssertEqual(snapshot.byUser.values.reduce(0) { $0 + $1.count }, 300)
        XCTAssertEqual(snapshot.totals.count, 300)
    }

    func testCompactHistogramPercentilesWithinSixPercentOfOracle() {
        var generator = SeededGenerator(seed: 7)
        var histogram = CompactLatencyHistogram()
        var values: [UInt64] = []
        for _ in 0 ..< 5000 {
            let value = UInt64(exp(Double.random(in: 0 ... log(10_000_000.0), using: &generator)))
            values.append(value)
            histogram.record(micros: value)
        }
        values.sort()
        for percentile in [1.0, 50, 90, 99, 99.9, 100] {
            let expected = Double(oracle(values, percentile))
            let reported = Double(histogram.valueAtPercentile(percentile))
            XCTAssertEqual(reported, expected, accuracy: expected / 16 + 1, "p\(percentile)")
        }
        XCTAssertEqual(histogram.maxMicros, values.last)
        XCTAssertEqual(CompactLatencyHistogram().valueAtPercentile(50), 0)
    }

    func testCompactHistogramBucketLayoutIsContiguousAndMonotonic() {
        var previousUpper: UInt64 = 0
        for index in 0 ..< CompactLatencyHistogram.bucketCount {
            let (lower, width) = CompactLatencyHistogram.range(ofBucket: index)
            XCTAssertEqual(lower, previousUpper, "bucket \(index) starts where the previous ends")
            XCTAssertEqual(CompactLatencyHistogram.bucketIndex(forMicros: lower), index)
            XCTAssertEqual(CompactLatencyHistogram.bucketIndex(forMicros: lower + width - 1), index)
            previousUpper = lower + width
        }
        XCTAssertEqual(CompactLatencyHistogram.bucketIndex(forMicros: .max), CompactLatencyHistogram.bucketCount - 1)
        XCTAssertEqual(MemoryLayout<UInt32>.size * CompactLatencyHistogram.bucketCount, 1024)
    }

    func testCompactHistogramMergeAddsCounts() {
        var first = CompactLatencyHistogram(), second = CompactLatencyHistogram()
        for value in [10, 20, 30] as [UInt64] { first.record(micros: value) }
        for value in [1000, 2000] as [UInt64] { second.record(micros: value) }
        first.add(second)
        XCTAssertEqual(first.totalCount, 5)
        XCTAssertEqual(first.maxMicros, 2000)
        XCTAssertEqual(first.valueAtPercentile(100), 2000)
        XCTAssertEqual(first.valueAtPercentile(20), 10)
    }

    func testHugeAndZeroDurationsDoNotCrash() {
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(), clock: ManualClock().function)
        registry.shard(at: 0).record(QuerySample(durationNanos: .max, waitNanos: .max, database: "d", user: "u", route: .primary, fingerprint: "x"))
        registry.shard(at: 0).record(QuerySample(durationNanos: 0, database: "d", user: "u", route: .primary, fingerprint: "x"))
        let snapshot = registry.snapshot()
        XCTAssertEqual(snapshot.overall.count, 2)
        XCTAssertEqual(snapshot.overall.slow, 1)
        XCTAssertEqual(snapshot.overall.maxMs, Double(LatencyHistogram.highestMicros) / 1000)
        XCTAssertEqual(snapshot.topSlow.first?.calls, 2)
    }
}
