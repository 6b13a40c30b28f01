/// The queries that finished in one slot of the rolling window (10 s with the default 60-s
/// window), merged over every event loop: one point of the dashboard's latency chart.
public struct QueryHistoryPoint: Equatable, Sendable {
    /// Wall-clock end of the slot, in seconds since 1970.
    public var endUnixSeconds: Double
    /// Length of the slot.
    public var seconds: Double
    public var overall: LatencySummary
    /// Both routes, always.
    public var byRoute: [QueryRoute: LatencySummary]
    public var byDatabase: [String: LatencySummary]

    public init(endUnixSeconds: Double, seconds: Double, overall: LatencySummary,
                byRoute: [QueryRoute: LatencySummary], byDatabase: [String: LatencySummary]) {
        self.endUnixSeconds = endUnixSeconds
        self.seconds = seconds
        self.overall = overall
        self.byRoute = byRoute
        self.byDatabase = byDatabase
    }
}

/// A bounded ring of the latest history points, oldest first. Memory: `capacity` points of a
/// few summaries each (at most 16 databases per shard get their own series; 360 points with
/// 18 summaries of 80 bytes are ~0.5 MB at most).
public struct QueryHistory: Sendable {
    /// One hour of the default 10-s slots.
    public static let defaultCapacity = 360

    public let capacity: Int
    private var ring: [QueryHistoryPoint] = []
    private var oldest = 0

    public init(capacity: Int = QueryHistory.defaultCapacity) {
        self.capacity = Swift.max(1, capacity)
    }

    public mutating func append(_ point: QueryHistoryPoint) {
        if ring.count < capacity {
            ring.append(point)
        } else {
            ring[oldest] = point
            oldest = (oldest + 1) % capacity
        }
    }

    public mutating func removeAll() {
        ring.removeAll()
        oldest = 0
    }

    /// The points, oldest first.
    public var points: [QueryHistoryPoint] {
        Array(ring[oldest...] + ring[..<oldest])
    }
}

extension QueryStatsRegistry {
    /// Length of one window slot, in nanoseconds: the history's interval.
    public var slotNanos: UInt64 { WindowLayout(windowSeconds: settings.windowSeconds).slotNanos }

    /// The queries of the slot that ended last before `now` (monotonic nanoseconds), merged
    /// over every shard, with that slot's number; shards caught in a reconfiguration are left
    /// out. Only the window series are copied (not the fingerprint tables).
    public func lastCompletedSlot(now: UInt64) -> (epoch: UInt64, overall: LatencySummary,
                                                   byRoute: [QueryRoute: LatencySummary], byDatabase: [String: LatencySummary])? {
        let layout = WindowLayout(windowSeconds: settings.windowSeconds)
        let current = layout.epoch(at: now)
        guard current > 0 else { return nil }
        let epoch = current - 1
        var byKey: [RouteKey: WindowAccumulator] = [:]
        for index in 0 ..< shardCount {
            let capture = shard(at: index).captureRouteWindows()
            guard capture.layout == layout else { continue }
            for (key, series) in capture.windows {
                let slot = series.slots[layout.position(of: epoch)]
                guard slot.epoch == epoch else { continue }
                byKey[key, default: WindowAccumulator()].add(slot)
            }
        }
        let merged = SnapshotBuilder.summaries(byKey)
        return (epoch, merged.overall, merged.byRoute, merged.byDatabase)
    }
}

extension StatsSettings {
    /// Length of a window slot in seconds: the history's interval.
    public var slotSeconds: Double { Double(WindowLayout(windowSeconds: windowSeconds).slotNanos) / 1e9 }
}

extension QueryStatsJSON {
    /// The `/metrics/queries/history` document: settings the chart needs, then the points.
    public static func history(_ points: [QueryHistoryPoint], settings: StatsSettings) -> JSONValue {
        .object([
            ("interval_s", .rounded(settings.slotSeconds)),
            ("window_s", .int(Int64(settings.windowSeconds))),
            ("threshold_ms", .rounded(settings.slowThresholdMs)),
            ("degraded_ratio", .double(settings.degradedRatio)),
            ("unhealthy_ratio", .double(settings.unhealthyRatio)),
            ("points", .array(points.map { point in
                .object([("t", .rounded(point.endUnixSeconds)), ("seconds", .rounded(point.seconds))]
                    + summaryMembers(point.overall)
                    + [("by_route", .object(QueryRoute.allCases.map { ($0.rawValue, summary(point.byRoute[$0] ?? .empty)) })),
                       ("by_database", .object(point.byDatabase.keys.sorted().map { ($0, summary(point.byDatabase[$0] ?? .empty)) }))])
            })),
        ])
    }
}
