/// A 1 KiB log-bucketed latency histogram for per-fingerprint statistics, where a full HDR
/// histogram (~94 KiB) per entry would not fit the memory budget.
///
/// Values are microseconds. Values 0..7 get exact buckets; above that every power of two is split
/// into 8 linear sub-buckets, so a reported percentile is within 1/16 (6.25 %) of the true value.
/// 256 buckets reach 2^34 µs (about 4.7 hours); larger values land in the last bucket.
public struct CompactLatencyHistogram: Sendable, Equatable {
    /// Number of buckets; the layout is fixed so histograms merge by adding counts.
    public static let bucketCount = 256
    static let subBucketBits = 3
    static let subBuckets: UInt64 = 1 << 3

    /// Per-bucket counts (saturated counts are halved as a whole, keeping the shape).
    public private(set) var counts: [UInt32]
    /// Number of recorded values.
    public private(set) var totalCount: UInt64 = 0
    /// Largest value recorded, exactly.
    public private(set) var maxMicros: UInt64 = 0

    /// An empty histogram.
    public init() {
        counts = [UInt32](repeating: 0, count: Self.bucketCount)
    }

    /// Records one value.
    public mutating func record(micros: UInt64) {
        counts.withUnsafeMutableBufferPointer { buffer in
            Self.increment(buffer, at: Self.bucketIndex(forMicros: micros))
        }
        totalCount &+= 1
        maxMicros = Swift.max(maxMicros, micros)
    }

    /// Adds another histogram's counts into this one.
    public mutating func add(_ other: CompactLatencyHistogram) {
        for index in 0 ..< Self.bucketCount {
            let (sum, overflow) = counts[index].addingReportingOverflow(other.counts[index])
            counts[index] = overflow ? UInt32.max : sum
        }
        totalCount &+= other.totalCount
        maxMicros = Swift.max(maxMicros, other.maxMicros)
    }

    /// The value at `percentile` (0...100), in microseconds: the middle of the bucket holding that
    /// rank, never above the largest recorded value (which p100 returns exactly). 0 when empty.
    public func valueAtPercentile(_ percentile: Double) -> UInt64 {
        counts.withUnsafeBufferPointer { Self.values(atPercentiles: [percentile], counts: $0, maxMicros: maxMicros)[0] }
    }

    /// Several percentiles of raw bucket counts in one pass over them (used on the flat
    /// fingerprint table without building a histogram per entry).
    static func values(atPercentiles percentiles: [Double], counts: UnsafeBufferPointer<UInt32>, maxMicros: UInt64) -> [UInt64] {
        var bucketTotal: UInt64 = 0
        for count in counts { bucketTotal += UInt64(count) }
        guard bucketTotal > 0 else { return percentiles.map { _ in 0 } }
        return percentiles.map { percentile in
            if percentile >= 100 { return maxMicros }
            let clamped = percentile.isFinite ? Swift.max(percentile, 0) : 100
            let rank = Swift.max(1, UInt64((clamped / 100 * Double(bucketTotal)).rounded(.up)))
            var seen: UInt64 = 0
            for index in 0 ..< Swift.min(counts.count, bucketCount) {
                seen += UInt64(counts[index])
                if seen >= rank { return Swift.min(representativeMicros(ofBucket: index), maxMicros) }
            }
            return maxMicros
        }
    }

    /// The bucket a value falls in.
    static func bucketIndex(forMicros value: UInt64) -> Int {
        if value < subBuckets { return Int(value) }
        let exponent = 63 - value.leadingZeroBitCount
        let sub = Int((value >> UInt64(exponent - subBucketBits)) & (subBuckets - 1))
        return Swift.min((exponent - subBucketBits + 1) * Int(subBuckets) + sub, bucketCount - 1)
    }

    /// Lowest value of a bucket and its width.
    static func range(ofBucket index: Int) -> (lower: UInt64, width: UInt64) {
        if index < Int(subBuckets) { return (UInt64(index), 1) }
        let exponent = index / Int(subBuckets) + subBucketBits - 1
        let sub = UInt64(index % Int(subBuckets))
        let width = UInt64(1) << UInt64(exponent - subBucketBits)
        return ((subBuckets + sub) * width, width)
    }

    /// The middle of a bucket, the value reported for every sample in it.
    static func representativeMicros(ofBucket index: Int) -> UInt64 {
        let (lower, width) = range(ofBucket: index)
        return lower + (width - 1) / 2
    }

    /// Increments one bucket; at saturation every bucket is halved first, so percentiles stay right.
    static func increment(_ buffer: UnsafeMutableBufferPointer<UInt32>, at index: Int) {
        if buffer[index] == UInt32.max {
            for i in buffer.indices { buffer[i] /= 2 }
        }
        buffer[index] += 1
    }
}
