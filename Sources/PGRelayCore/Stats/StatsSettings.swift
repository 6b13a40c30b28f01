/// The knobs of query statistics, taken from the `[pgrelay]` section of the config.
///
/// Every value is clamped into a sane range by the initializer, so a settings value can never make
/// the statistics crash or grow without bound; the config parser reports invalid input itself.
public struct StatsSettings: Equatable, Sendable {
    /// A query slower than this (strictly) counts as slow. `slow_query_threshold_ms`.
    public var slowThresholdMs: Double
    /// Length of the rolling window for percentiles and health. `health_window_s`.
    public var windowSeconds: Int
    /// Slow share at or above which the status is degraded. `health_degraded_ratio`.
    public var degradedRatio: Double
    /// Slow share above which the status is unhealthy. `health_unhealthy_ratio`.
    public var unhealthyRatio: Double
    /// Size of the per-fingerprint LRU table, per shard. `max_fingerprints`; 0 disables it.
    public var maxFingerprints: Int
    /// Whether recording happens at all (the hidden `stats = off` switch for overhead benchmarks).
    public var enabled: Bool
    /// Distinct (database, route) pairs tracked per shard; more pairs share the `(other)` database.
    public var maxDatabaseRoutes: Int
    /// Distinct users tracked per shard; more users share the `(other)` user.
    public var maxUsers: Int

    /// Upper bounds enforced by the initializer.
    public static let maxWindowSeconds = 3600
    public static let maxFingerprintsLimit = 100_000
    public static let maxLabelKeysLimit = 256

    /// Creates settings; out-of-range values are clamped (see the static limits).
    public init(
        slowThresholdMs: Double = 100,
        windowSeconds: Int = 60,
        degradedRatio: Double = 0.05,
        unhealthyRatio: Double = 0.10,
        maxFingerprints: Int = 5000,
        enabled: Bool = true,
        maxDatabaseRoutes: Int = 16,
        maxUsers: Int = 16
    ) {
        self.slowThresholdMs = slowThresholdMs.isFinite ? Swift.max(0, slowThresholdMs) : 100
        self.windowSeconds = Swift.min(Swift.max(1, windowSeconds), Self.maxWindowSeconds)
        let degraded = degradedRatio.isFinite ? Swift.min(Swift.max(0, degradedRatio), 1) : 0.05
        let unhealthy = unhealthyRatio.isFinite ? Swift.min(Swift.max(0, unhealthyRatio), 1) : 0.10
        self.degradedRatio = degraded
        self.unhealthyRatio = Swift.max(degraded, unhealthy)
        self.maxFingerprints = Swift.min(Swift.max(0, maxFingerprints), Self.maxFingerprintsLimit)
        self.enabled = enabled
        self.maxDatabaseRoutes = Swift.min(Swift.max(1, maxDatabaseRoutes), Self.maxLabelKeysLimit)
        self.maxUsers = Swift.min(Swift.max(1, maxUsers), Self.maxLabelKeysLimit)
    }

    /// The slow threshold in whole microseconds, the unit the histograms record in.
    var slowThresholdMicros: UInt64 {
        UInt64((slowThresholdMs * 1000).rounded(.down))
    }
}
