import NIOCore
import Synchronization

/// All shards of query statistics (one per event loop) and the merged view the admin API reads.
public final class QueryStatsRegistry: Sendable {
    /// Fingerprints shown in `top_slow`.
    public static let topSlowLimit = 20

    private let shards: [QueryStatsShard]
    private let currentSettings: Mutex<StatsSettings>
    private let clock: @Sendable () -> UInt64

    /// The process's monotonic clock in nanoseconds (CLOCK_MONOTONIC through NIO).
    public static let monotonicNanos: @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }

    /// Creates `shardCount` (at least 1) empty shards that all read time from `clock`.
    public init(shardCount: Int, settings: StatsSettings, clock: @escaping @Sendable () -> UInt64 = QueryStatsRegistry.monotonicNanos) {
        let count = Swift.max(1, shardCount)
        shards = (0 ..< count).map { _ in QueryStatsShard(settings: settings, clock: clock) }
        currentSettings = Mutex(settings)
        self.clock = clock
    }

    /// Number of shards.
    public var shardCount: Int { shards.count }

    /// The shard for event loop number `index` (taken modulo the shard count, so never out of range).
    public func shard(at index: Int) -> QueryStatsShard {
        let count = shards.count
        return shards[((index % count) + count) % count]
    }

    /// The settings in force.
    public var settings: StatsSettings { currentSettings.withLock { $0 } }

    /// Applies reloaded settings to every shard.
    public func reconfigure(_ settings: StatsSettings) {
        currentSettings.withLock { $0 = settings }
        for shard in shards { shard.reconfigure(settings) }
    }

    /// Forgets everything recorded (windows, totals, fingerprints).
    public func reset() {
        for shard in shards { shard.reset() }
    }

    /// Upper bound of the memory all shards can hold with these settings, in bytes (documented in
    /// docs/metrics.md; a snapshot may briefly add copies of the histograms it merges).
    public static func memoryBoundBytes(settings: StatsSettings, shardCount: Int) -> Int {
        let layout = WindowLayout(windowSeconds: settings.windowSeconds)
        // (database, route) keys plus the two overflow keys, users plus overflow, and the wait series.
        let windowSeries = settings.maxDatabaseRoutes + 2 + settings.maxUsers + 1 + 1
        let windows = layout.slotCount * windowSeries * (LatencyHistogram.footprintBytes + MemoryLayout<WindowSlot>.stride)
        let counters = (settings.maxDatabaseRoutes + 2) * (256 + (DurationBuckets.bounds.count + 1) * 8)
        let perFingerprint = CompactLatencyHistogram.bucketCount * 4   // buckets
            + 5 * 8 + 2 * 4                                             // counters and LRU links
            + FingerprintTable.maxKeyBytes + 16                         // key text and String header
            + 48                                                        // dictionary entry with slack
        return Swift.max(1, shardCount) * (windows + counters + settings.maxFingerprints * perFingerprint)
    }

    /// Merges all shards at `now` (monotonic nanoseconds; the registry's clock when nil).
    public func snapshot(now: UInt64? = nil) -> QueryStatsSnapshot {
        let settings = self.settings
        let captures = shards.map { $0.capture() }
        return SnapshotBuilder(settings: settings, now: now ?? clock()).build(from: captures)
    }
}

/// Merges shard captures into a snapshot; runs outside every shard lock.
struct SnapshotBuilder {
    let settings: StatsSettings
    let layout: WindowLayout
    let epoch: UInt64

    init(settings: StatsSettings, now: UInt64) {
        self.settings = settings
        layout = WindowLayout(windowSeconds: settings.windowSeconds)
        epoch = layout.epoch(at: now)
    }

    func build(from captures: [ShardState]) -> QueryStatsSnapshot {
        // A shard caught in the middle of a reconfigure still has the old layout: its windows
        // would be misread, so they are left out of this one snapshot.
        let current = captures.filter { $0.layout == layout }
        var byKey: [RouteKey: WindowAccumulator] = [:]
        var byUser: [String: WindowAccumulator] = [:]
        var wait = WindowAccumulator()
        for capture in current {
            for (key, series) in capture.routeWindows { byKey[key, default: WindowAccumulator()].add(series, at: epoch, layout: layout) }
            for (user, series) in capture.userWindows { byUser[user, default: WindowAccumulator()].add(series, at: epoch, layout: layout) }
            wait.add(capture.waitWindow, at: epoch, layout: layout)
        }
        let (overallSummary, routeSummaries, databaseSummaries) = Self.summaries(byKey)

        let (totals, routeTotals) = mergeTotals(captures)
        return QueryStatsSnapshot(
            windowSeconds: settings.windowSeconds,
            thresholdMs: settings.slowThresholdMs,
            overall: overallSummary,
            wait: wait.summary(),
            byRoute: routeSummaries,
            byDatabase: databaseSummaries,
            byUser: byUser.filter { $0.value.count > 0 }.mapValues { $0.summary() },
            totals: totals,
            routeTotals: routeTotals,
            topSlow: topSlow(captures),
            fingerprintCount: captures.reduce(0) { $0 + $1.fingerprints.count },
            health: HealthPolicy.status(slow: overallSummary.slow, total: overallSummary.count,
                                        degraded: settings.degradedRatio, unhealthy: settings.unhealthyRatio))
    }

    /// Window accumulators by (database, route) summed up overall, per route (both always
    /// present) and per database.
    static func summaries(_ byKey: [RouteKey: WindowAccumulator])
        -> (overall: LatencySummary, byRoute: [QueryRoute: LatencySummary], byDatabase: [String: LatencySummary]) {
        var overall = WindowAccumulator()
        var byRoute: [QueryRoute: WindowAccumulator] = [:]
        var byDatabase: [String: WindowAccumulator] = [:]
        for (key, accumulator) in byKey where accumulator.count > 0 {
            overall.add(accumulator)
            byRoute[key.route, default: WindowAccumulator()].add(accumulator)
            byDatabase[key.database, default: WindowAccumulator()].add(accumulator)
        }
        var routes: [QueryRoute: LatencySummary] = [:]
        for route in QueryRoute.allCases { routes[route] = byRoute[route]?.summary() ?? .empty }
        return (overall.summary(), routes, byDatabase.mapValues { $0.summary() })
    }

    private func mergeTotals(_ captures: [ShardState]) -> (QueryTotals, [RouteTotals]) {
        var merged: [RouteKey: RouteCounters] = [:]
        for capture in captures {
            for (key, counters) in capture.routeCounters { merged[key, default: RouteCounters()].add(counters) }
        }
        var all = RouteCounters()
        for counters in merged.values { all.add(counters) }
        let keys = merged.keys.sorted { ($0.database, $0.route.rawValue) < ($1.database, $1.route.rawValue) }
        let routeTotals = keys.compactMap { key -> RouteTotals? in
            guard let counters = merged[key] else { return nil }
            var running: UInt64 = 0
            let cumulative = counters.bucketCounts.map { count -> UInt64 in running &+= count; return running }
            return RouteTotals(
                database: key.database, route: key.route, count: counters.count, slow: counters.slow,
                errors: counters.errors, sumSeconds: Double(counters.sumNanos) / 1e9,
                waitSumSeconds: Double(counters.waitSumNanos) / 1e9,
                minMs: counters.count == 0 ? 0 : Double(counters.minNanos) / 1e6,
                maxMs: Double(counters.maxNanos) / 1e6, cumulativeBuckets: cumulative)
        }
        let count = all.count
        let totals = QueryTotals(
            count: count, slow: all.slow, errors: all.errors,
            minMs: count == 0 ? 0 : Double(all.minNanos) / 1e6,
            avgMs: count == 0 ? 0 : Double(all.sumNanos) / Double(count) / 1e6,
            maxMs: Double(all.maxNanos) / 1e6,
            avgWaitMs: count == 0 ? 0 : Double(all.waitSumNanos) / Double(count) / 1e6)
        return (totals, routeTotals)
    }

    /// Merges the fingerprint tables and picks the slowest: most slow calls, then highest p99.
    /// Percentiles are computed only for the entries that can still make the cut, straight from
    /// the tables' bucket arrays (a snapshot may see 2 × 5000 fingerprints).
    private func topSlow(_ captures: [ShardState]) -> [FingerprintSummary] {
        struct Location { var table: Int, slot: Int }
        struct Merged {
            var calls: UInt64 = 0, slow: UInt64 = 0, errors: UInt64 = 0, sumMicros: UInt64 = 0, maxMicros: UInt64 = 0
            var first: Location?
            var others: [Location] = []

            mutating func absorb(_ table: FingerprintTable, at location: Location) {
                calls &+= table.calls[location.slot]
                slow &+= table.slow[location.slot]
                errors &+= table.errors[location.slot]
                sumMicros &+= table.sumMicros[location.slot]
                maxMicros = Swift.max(maxMicros, table.maxMicros[location.slot])
                if first == nil { first = location } else { others.append(location) }
            }
        }
        let tables = captures.map(\.fingerprints)
        var merged: [String: Merged] = [:]
        for (tableIndex, table) in tables.enumerated() {
            for slot in 0 ..< table.count {
                merged[table.keys[slot], default: Merged()].absorb(table, at: Location(table: tableIndex, slot: slot))
            }
        }
        let limit = QueryStatsRegistry.topSlowLimit
        let bySlow = merged.sorted { $0.value.slow > $1.value.slow }
        let cutoff = bySlow.count > limit ? bySlow[limit - 1].value.slow : 0
        var scratch = [UInt32](repeating: 0, count: CompactLatencyHistogram.bucketCount)
        let candidates = bySlow.prefix { $0.value.slow >= cutoff }.map { fingerprint, entry -> FingerprintSummary in
            var percentiles: [UInt64] = [0, 0]
            if let first = entry.first {
                let wanted: [Double] = [50, 99]
                if entry.others.isEmpty {
                    percentiles = tables[first.table].withBuckets(atSlot: first.slot) {
                        CompactLatencyHistogram.values(atPercentiles: wanted, counts: $0, maxMicros: entry.maxMicros)
                    }
                } else {
                    for index in scratch.indices { scratch[index] = 0 }
                    for location in [first] + entry.others {
                        tables[location.table].withBuckets(atSlot: location.slot) { counts in
                            for index in scratch.indices { scratch[index] &+= counts[index] }
                        }
                    }
                    percentiles = scratch.withUnsafeBufferPointer {
                        CompactLatencyHistogram.values(atPercentiles: wanted, counts: $0, maxMicros: entry.maxMicros)
                    }
                }
            }
            return FingerprintSummary(
                fingerprint: fingerprint, calls: entry.calls, slow: entry.slow, errors: entry.errors,
                avgMs: entry.calls == 0 ? 0 : Double(entry.sumMicros) / Double(entry.calls) / 1000,
                p50Ms: Double(percentiles[0]) / 1000, p99Ms: Double(percentiles[1]) / 1000,
                maxMs: Double(entry.maxMicros) / 1000)
        }
        let ordered = candidates.sorted {
            if $0.slow != $1.slow { return $0.slow > $1.slow }
            if $0.p99Ms != $1.p99Ms { return $0.p99Ms > $1.p99Ms }
            if $0.calls != $1.calls { return $0.calls > $1.calls }
            return $0.fingerprint < $1.fingerprint
        }
        return Array(ordered.prefix(limit))
    }
}
