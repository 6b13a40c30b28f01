/// The fixed buckets of the `pgrelay_query_duration_seconds` histogram, and all-time counters per
/// (database, route) kept beside the HDR windows (Prometheus wants cumulative all-time counts).
enum DurationBuckets {
    /// Upper bounds as they appear in the `le` label, with the same bound in nanoseconds.
    static let bounds: [(label: String, nanos: UInt64)] = [
        ("0.0005", 500_000), ("0.001", 1_000_000), ("0.0025", 2_500_000), ("0.005", 5_000_000),
        ("0.01", 10_000_000), ("0.025", 25_000_000), ("0.05", 50_000_000), ("0.1", 100_000_000),
        ("0.25", 250_000_000), ("0.5", 500_000_000), ("1", 1_000_000_000), ("2.5", 2_500_000_000),
        ("5", 5_000_000_000), ("10", 10_000_000_000),
    ]

    /// Index of the first bucket whose bound is >= the duration; `bounds.count` means only +Inf.
    static func index(forNanos nanos: UInt64) -> Int {
        var low = 0, high = bounds.count
        while low < high {
            let middle = (low + high) / 2
            if bounds[middle].nanos >= nanos { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

/// All-time counters of one (database, route) pair.
struct RouteCounters: Sendable {
    var count: UInt64 = 0
    var slow: UInt64 = 0
    var errors: UInt64 = 0
    var sumNanos: UInt64 = 0
    var waitSumNanos: UInt64 = 0
    var minNanos: UInt64 = .max
    var maxNanos: UInt64 = 0
    /// Non-cumulative counts per bucket; the last entry counts durations above the last bound.
    var bucketCounts = [UInt64](repeating: 0, count: DurationBuckets.bounds.count + 1)

    mutating func record(nanos: UInt64, waitNanos: UInt64, isSlow: Bool, isError: Bool) {
        count &+= 1
        if isSlow { slow &+= 1 }
        if isError { errors &+= 1 }
        sumNanos &+= nanos
        waitSumNanos &+= waitNanos
        minNanos = Swift.min(minNanos, nanos)
        maxNanos = Swift.max(maxNanos, nanos)
        bucketCounts[DurationBuckets.index(forNanos: nanos)] &+= 1
    }

    mutating func add(_ other: RouteCounters) {
        count &+= other.count
        slow &+= other.slow
        errors &+= other.errors
        sumNanos &+= other.sumNanos
        waitSumNanos &+= other.waitSumNanos
        minNanos = Swift.min(minNanos, other.minNanos)
        maxNanos = Swift.max(maxNanos, other.maxNanos)
        for index in bucketCounts.indices { bucketCounts[index] &+= other.bucketCounts[index] }
    }
}
