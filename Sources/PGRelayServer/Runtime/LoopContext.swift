import NIOCore
import PGRelayCore

/// What each event loop keeps for itself so the hot path takes no shared lock: its stats shard
/// and its caches of fingerprints and classifications by statement text. Only its own loop uses
/// the caches.
final class LoopContext: @unchecked Sendable {
    let index: Int
    let stats: QueryStatsShard
    var fingerprints = FingerprintCache()
    var classifications: ClassificationCache
    /// The settings the hot path reads, copied here on start and on reload (on this loop).
    var settings: HotSettings
    /// Which finished requests become spans, and their ids (only used with `settings.tracing`).
    var tracer = LoopTracer()

    init(index: Int, stats: QueryStatsShard, classifier: SQLClassifier, settings: HotSettings) {
        self.index = index
        self.stats = stats
        self.classifications = ClassificationCache(classifier: classifier)
        self.settings = settings
    }
}

/// Configuration values read per request; kept per loop so that reading them takes no lock.
struct HotSettings: Sendable {
    var logQueries: LogQueries
    var slowThresholdNanos: UInt64
    var wantsFingerprints: Bool
    /// Stats need every query's fingerprint; the slow log alone only those of slow queries
    /// (implies `wantsFingerprints`).
    var fingerprintsEveryQuery: Bool
    var readAfterWrite: TimeAmount
    /// `disable_pqexec`: a simple-protocol Query closes the client.
    var refusesSimpleQuery: Bool
    /// `otlp_endpoint` is set: requests are looked at for a trace context and may get a span.
    var tracing: Bool
    /// Some `query_rate_limit` is set: requests pass the client's `QueryRateGate`.
    var rateLimited: Bool

    init(config: Config) {
        refusesSimpleQuery = config.disablePqexec
        tracing = !config.otlpEndpoint.isEmpty
        rateLimited = QueryRateLimits.anyConfigured(config)
        readAfterWrite = .nanoseconds(Int64(max(0, config.readAfterWriteMs) * 1e6))
        logQueries = config.logQueries
        slowThresholdNanos = UInt64(max(0, config.slowQueryThresholdMs) * 1e6)
        wantsFingerprints = config.stats || config.logQueries != .none
        fingerprintsEveryQuery = config.stats || config.logQueries == .all
    }
}

extension StatsSettings {
    init(config: Config) {
        self.init(slowThresholdMs: config.slowQueryThresholdMs, windowSeconds: config.healthWindowS,
                  degradedRatio: config.healthDegradedRatio, unhealthyRatio: config.healthUnhealthyRatio,
                  maxFingerprints: config.maxFingerprints, enabled: config.stats)
    }
}
