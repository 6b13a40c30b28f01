import XCTest
@testable import PGRelayCore

final class StatsHealthTests: XCTestCase {
    func testBandsAtTheirBoundaries() {
        let cases: [(slow: UInt64, total: UInt64, expected: HealthStatus)] = [
            (0, 0, .healthy),          // empty window
            (0, 100, .healthy),
            (4, 100, .healthy),
            (49_999, 1_000_000, .healthy),
            (5, 100, .degraded),       // exactly degraded_ratio
            (7, 100, .degraded),
            (10, 100, .degraded),      // exactly unhealthy_ratio is still degraded
            (100_001, 1_000_000, .unhealthy),
            (11, 100, .unhealthy),
            (100, 100, .unhealthy),
        ]
        for (slow, total, expected) in cases {
            XCTAssertEqual(HealthPolicy.status(slow: slow, total: total, degraded: 0.05, unhealthy: 0.10), expected,
                           "\(slow)/\(total)")
        }
    }

    func testRatioFormIncludingNaN() {
        XCTAssertEqual(HealthPolicy.status(slowRatio: .nan, degraded: 0.05, unhealthy: 0.1), .healthy)
        XCTAssertEqual(HealthPolicy.status(slowRatio: 0.05, degraded: 0.05, unhealthy: 0.1), .degraded)
        XCTAssertEqual(HealthPolicy.status(slowRatio: 0.1, degraded: 0.05, unhealthy: 0.1), .degraded)
        XCTAssertEqual(HealthPolicy.status(slowRatio: 0.1000001, degraded: 0.05, unhealthy: 0.1), .unhealthy)
        XCTAssertEqual(HealthPolicy.status(slowRatio: 0, degraded: 0, unhealthy: 0), .degraded, "zero bands: any traffic degrades")
    }

    func testGaugeValues() {
        XCTAssertEqual(HealthStatus.allCases.map(\.gaugeValue), [0, 1, 2])
    }

    /// The integration scenario of issue 5, without a database: 2 %, 7 % and 20 % slow.
    func testRegistryStatusFollowsTheSlowShare() {
        for (slowCount, expected) in [(2, HealthStatus.healthy), (7, .degraded), (20, .unhealthy)] {
            let registry = QueryStatsRegistry(shardCount: 2, settings: StatsSettings(), clock: ManualClock().function)
            for index in 0 ..< 100 {
                registry.shard(at: index).record(sample(ms: index < slowCount ? 150 : 2))
            }
            let snapshot = registry.snapshot()
            XCTAssertEqual(snapshot.overall.slow, UInt64(slowCount))
            XCTAssertEqual(snapshot.health, expected, "\(slowCount) % slow")
        }
    }

    func testThresholdIsStrictlyGreaterThan() {
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(slowThresholdMs: 100), clock: ManualClock().function)
        registry.shard(at: 0).record(sample(ms: 100))
        registry.shard(at: 0).record(QuerySample(durationNanos: 100_000_001, database: "d", user: "u", route: .primary))
        XCTAssertEqual(registry.snapshot().overall.slow, 1)
    }
}
