import Synchronization

/// The statistics of one event loop.
///
/// Only the owning event loop records; admin reads come from other threads. The state sits behind a
/// `Mutex` that is uncontended on the hot path (a read holds it only to copy a few references: the
/// histograms are copy-on-write values, merged after the lock is released).
public final class QueryStatsShard: Sendable {
    /// Label standing in for databases and users beyond the configured caps.
    public static let overflowLabel = "(other)"

    private let state: Mutex<ShardState>
    private let enabled: Atomic<Bool>
    private let clock: @Sendable () -> UInt64

    /// Creates an empty shard reading time from `clock` (monotonic nanoseconds).
    public init(settings: StatsSettings, clock: @escaping @Sendable () -> UInt64) {
        state = Mutex(ShardState(settings: settings))
        enabled = Atomic(settings.enabled)
        self.clock = clock
    }

    /// Whether statistics are on; a lock-free read, so the server can skip taking timestamps at
    /// all when they are off (the `stats = off` benchmark baseline).
    public var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Records one finished query at the current clock time.
    public func record(_ sample: QuerySample) {
        record(sample, at: clock())
    }

    /// Records one finished query at the given monotonic time (nanoseconds).
    public func record(_ sample: QuerySample, at nanos: UInt64) {
        state.withLock { $0.record(sample, at: nanos) }
    }

    /// Applies new settings. A new window length empties the window; a smaller fingerprint table
    /// evicts its least recently used entries.
    public func reconfigure(_ settings: StatsSettings) {
        state.withLock { $0.reconfigure(settings) }
        enabled.store(settings.enabled, ordering: .relaxed)
    }

    /// Forgets everything recorded.
    public func reset() {
        state.withLock { $0.reset() }
    }

    /// Copies the state out (cheap: copy-on-write references) for merging outside the lock.
    func capture() -> ShardState {
        state.withLock { $0 }
    }
}

/// Route key of the window and counter tables.
struct RouteKey: Hashable, Sendable {
    var database: String
    var route: QueryRoute
}

/// Everything one shard holds. A value type, so a capture is a consistent copy.
struct ShardState: Sendable {
    private(set) var settings: StatsSettings
    private(set) var layout: WindowLayout
    private var thresholdNanos: UInt64
    private(set) var routeWindows: [RouteKey: WindowSeries] = [:]
    private(set) var userWindows: [String: WindowSeries] = [:]
    private(set) var waitWindow: WindowSeries
    private(set) var routeCounters: [RouteKey: RouteCounters] = [:]
    private var admittedUsers: Set<String> = []
    private(set) var fingerprints: FingerprintTable
    private var prunedEpoch: UInt64 = 0

    init(settings: StatsSettings) {
        self.settings = settings
        layout = WindowLayout(windowSeconds: settings.windowSeconds)
        thresholdNanos = Self.nanos(ofMs: settings.slowThresholdMs)
        waitWindow = WindowSeries(layout: layout)
        fingerprints = FingerprintTable(capacity: settings.maxFingerprints)
    }

    mutating func record(_ sample: QuerySample, at nanos: UInt64) {
        guard settings.enabled else { return }
        let micros = Self.micros(ofNanos: sample.durationNanos)
        let isSlow = sample.durationNanos > thresholdNanos
        let layout = self.layout
        let epoch = layout.epoch(at: nanos)
        if epoch != prunedEpoch { pruneIdleSeries(at: epoch) }

        // One hash per table: update in place through the index when the key is known.
        var key = RouteKey(database: sample.database, route: sample.route)
        if let index = routeCounters.index(forKey: key) {
            routeCounters.values[index].record(
                nanos: sample.durationNanos, waitNanos: sample.waitNanos, isSlow: isSlow, isError: sample.isError)
        } else {
            key = admittedRouteKey(database: sample.database, route: sample.route)
            routeCounters[key, default: RouteCounters()].record(
                nanos: sample.durationNanos, waitNanos: sample.waitNanos, isSlow: isSlow, isError: sample.isError)
        }
        if let index = routeWindows.index(forKey: key) {
            routeWindows.values[index].record(micros: micros, isSlow: isSlow, isError: sample.isError, epoch: epoch, layout: layout)
        } else {
            routeWindows[key, default: WindowSeries(layout: layout)].record(
                micros: micros, isSlow: isSlow, isError: sample.isError, epoch: epoch, layout: layout)
        }
        if let index = userWindows.index(forKey: sample.user) {
            userWindows.values[index].record(micros: micros, isSlow: isSlow, isError: sample.isError, epoch: epoch, layout: layout)
        } else {
            userWindows[admittedUser(sample.user), default: WindowSeries(layout: layout)].record(
                micros: micros, isSlow: isSlow, isError: sample.isError, epoch: epoch, layout: layout)
        }
        waitWindow.record(
            micros: Self.micros(ofNanos: sample.waitNanos), isSlow: false, isError: false, epoch: epoch, layout: layout)
        if let fingerprint = sample.fingerprint {
            fingerprints.record(fingerprint: fingerprint, micros: micros, isSlow: isSlow, isError: sample.isError)
        }
    }

    mutating func reconfigure(_ newSettings: StatsSettings) {
        let newLayout = WindowLayout(windowSeconds: newSettings.windowSeconds)
        if newLayout != layout {
            layout = newLayout
            routeWindows = [:]
            userWindows = [:]
            waitWindow = WindowSeries(layout: newLayout)
        }
        if newSettings.maxFingerprints != fingerprints.capacity {
            fingerprints.resize(capacity: newSettings.maxFingerprints)
        }
        thresholdNanos = Self.nanos(ofMs: newSettings.slowThresholdMs)
        settings = newSettings
    }

    mutating func reset() {
        self = ShardState(settings: settings)
    }

    /// Drops window series that have seen nothing for a whole window, releasing their histograms.
    private mutating func pruneIdleSeries(at epoch: UInt64) {
        prunedEpoch = epoch
        let layout = self.layout
        var idleRoutes: [RouteKey] = []
        for (key, series) in routeWindows where series.isIdle(at: epoch, layout: layout) { idleRoutes.append(key) }
        for key in idleRoutes { routeWindows.removeValue(forKey: key) }
        var idleUsers: [String] = []
        for (key, series) in userWindows where series.isIdle(at: epoch, layout: layout) { idleUsers.append(key) }
        for key in idleUsers { userWindows.removeValue(forKey: key) }
    }

    /// The key a sample is counted under: beyond the cap, new databases share the overflow label.
    private func admittedRouteKey(database: String, route: QueryRoute) -> RouteKey {
        let key = RouteKey(database: database, route: route)
        if routeCounters.index(forKey: key) != nil || routeCounters.count < settings.maxDatabaseRoutes {
            return key
        }
        return RouteKey(database: QueryStatsShard.overflowLabel, route: route)
    }

    private mutating func admittedUser(_ user: String) -> String {
        if admittedUsers.contains(user) { return user }
        guard admittedUsers.count < settings.maxUsers else { return QueryStatsShard.overflowLabel }
        admittedUsers.insert(user)
        return user
    }

    static func micros(ofNanos nanos: UInt64) -> UInt64 {
        nanos / 1000 + (nanos % 1000 >= 500 ? 1 : 0)
    }

    static func nanos(ofMs ms: Double) -> UInt64 {
        let nanos = ms * 1_000_000
        guard nanos.isFinite, nanos > 0 else { return 0 }
        return nanos >= Double(UInt64.max) ? UInt64.max : UInt64(nanos)
    }
}
