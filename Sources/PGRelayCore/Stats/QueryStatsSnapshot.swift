/// Latency of a set of queries in the rolling window, in milliseconds.
public struct LatencySummary: Equatable, Sendable {
    public var count: UInt64
    public var slow: UInt64
    public var errors: UInt64
    public var minMs: Double
    public var avgMs: Double
    public var maxMs: Double
    public var p50Ms: Double
    public var p90Ms: Double
    public var p95Ms: Double
    public var p99Ms: Double

    /// Share of slow queries; 0 when there were none at all.
    public var slowRatio: Double { count == 0 ? 0 : Double(slow) / Double(count) }

    /// No queries.
    public static let empty = LatencySummary(
        count: 0, slow: 0, errors: 0, minMs: 0, avgMs: 0, maxMs: 0, p50Ms: 0, p90Ms: 0, p95Ms: 0, p99Ms: 0)

    /// Creates a summary from its parts.
    public init(count: UInt64, slow: UInt64, errors: UInt64, minMs: Double, avgMs: Double, maxMs: Double,
                p50Ms: Double, p90Ms: Double, p95Ms: Double, p99Ms: Double) {
        self.count = count
        self.slow = slow
        self.errors = errors
        self.minMs = minMs
        self.avgMs = avgMs
        self.maxMs = maxMs
        self.p50Ms = p50Ms
        self.p90Ms = p90Ms
        self.p95Ms = p95Ms
        self.p99Ms = p99Ms
    }
}

/// All-time counters of one (database, route) pair, since start or the last reset.
public struct RouteTotals: Equatable, Sendable {
    public var database: String
    public var route: QueryRoute
    public var count: UInt64
    public var slow: UInt64
    public var errors: UInt64
    /// Sum of query durations, in seconds.
    public var sumSeconds: Double
    /// Sum of wait-for-server times, in seconds.
    public var waitSumSeconds: Double
    /// Shortest and longest query, in milliseconds (0 when none).
    public var minMs: Double
    public var maxMs: Double
    /// Cumulative counts for `bucketBounds` (same order), ending with the +Inf bucket (== count).
    public var cumulativeBuckets: [UInt64]

    /// The `le` bounds of the duration histogram, as Prometheus labels, without +Inf.
    public static var bucketBounds: [String] { DurationBuckets.bounds.map(\.label) }
}

/// All-time totals over every database and route.
public struct QueryTotals: Equatable, Sendable {
    public var count: UInt64
    public var slow: UInt64
    public var errors: UInt64
    public var minMs: Double
    public var avgMs: Double
    public var maxMs: Double
    /// Average wait for a server connection, in milliseconds.
    public var avgWaitMs: Double
}

/// Statistics of one fingerprint, for `top_slow`. Counts are since the fingerprint entered the LRU
/// table; percentiles come from a compact histogram (within ~6 %).
public struct FingerprintSummary: Equatable, Sendable {
    public var fingerprint: String
    public var calls: UInt64
    public var slow: UInt64
    public var errors: UInt64
    public var avgMs: Double
    public var p50Ms: Double
    public var p99Ms: Double
    public var maxMs: Double
}

/// Everything the admin API shows about queries, merged over all shards at one instant.
public struct QueryStatsSnapshot: Sendable {
    /// Window length and slow threshold the numbers were taken with.
    public var windowSeconds: Int
    public var thresholdMs: Double
    /// All queries in the window.
    public var overall: LatencySummary
    /// Wait-for-server time of the same queries (slow is always 0).
    public var wait: LatencySummary
    /// Window summaries by route (both routes always present), database and user.
    public var byRoute: [QueryRoute: LatencySummary]
    public var byDatabase: [String: LatencySummary]
    public var byUser: [String: LatencySummary]
    /// All-time totals, overall and per (database, route), sorted by database then route.
    public var totals: QueryTotals
    public var routeTotals: [RouteTotals]
    /// The slowest fingerprints: most slow calls first, then highest p99.
    public var topSlow: [FingerprintSummary]
    /// Number of fingerprints tracked over all shards (the same text may count once per shard).
    public var fingerprintCount: Int
    /// Health by the slow share of the window.
    public var health: HealthStatus
}
