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

    /// Records one finished query at the current clock time, from its parts: the form for the
    /// per-query path, where building a `QuerySample` copies (retains) its strings and destroys
    /// them again; borrowed here, a name is only copied when a new route or user is added.
    public func record(durationNanos: UInt64, waitNanos: UInt64, database: String, user: String, route: QueryRoute,
                       fingerprint: String?, isError: Bool) {
        let nanos = clock()
        state.withLock {
            $0.record(durationNanos: durationNanos, waitNanos: waitNanos, database: database, user: user, route: route,
                      fingerprint: fingerprint, isError: isError, at: nanos)
        }
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

    /// Copies only the window series by (database, route) out, for the history: the fingerprint
    /// table stays unshared, so the loop's next record does not copy it.
    func captureRouteWindows() -> (layout: WindowLayout, windows: [RouteKey: WindowSeries]) {
        state.withLock { ($0.layout, $0.routeWindows) }
    }
}

/// Route key of the window and counter tables.
struct RouteKey: Hashable, Sendable {
    var database: String
    var route: QueryRoute
}

/// Everything one shard holds. A value type, so a capture is a consistent copy.
///
/// Routes and users live in slots that are never taken back (only `reset` empties them), so the
/// slot of the previous sample can be remembered: one connection's queries, and a pool's, mostly
/// carry the same database, route and user one after another, and comparing with the last key
/// (short names compare as two words) costs far less than hashing the names for every query.
struct ShardState: Sendable {
    private(set) var settings: StatsSettings
    private(set) var layout: WindowLayout
    private var thresholdNanos: UInt64
    private var routeSlotByKey: [RouteKey: Int] = [:]
    private var routeKeys: [RouteKey] = []
    private var routeCounterSlots: [RouteCounters] = []
    /// nil while the route has been idle for a whole window (its histograms freed).
    private var routeWindowSlots: [WindowSeries?] = []
    private var userSlotByName: [String: Int] = [:]
    private var userNames: [String] = []
    private var userWindowSlots: [WindowSeries?] = []
    private var admittedUserCount = 0
    private var lastRoute: (key: RouteKey, slot: Int)?
    private var lastUser: (name: String, slot: Int)?
    private(set) var waitWindow: WindowSeries
    private(set) var fingerprints: FingerprintTable
    private var prunedEpoch: UInt64 = 0

    init(settings: StatsSettings) {
        self.settings = settings
        layout = WindowLayout(windowSeconds: settings.windowSeconds)
        thresholdNanos = Self.nanos(ofMs: settings.slowThresholdMs)
        waitWindow = WindowSeries(layout: layout)
        fingerprints = FingerprintTable(capacity: settings.maxFingerprints)
    }

    /// Window series by route, without the idle ones.
    var routeWindows: [RouteKey: WindowSeries] {
        var result: [RouteKey: WindowSeries] = [:]
        for (slot, series) in routeWindowSlots.enumerated() {
            if let series { result[routeKeys[slot]] = series }
        }
        return result
    }

    /// Window series by user, without the idle ones.
    var userWindows: [String: WindowSeries] {
        var result: [String: WindowSeries] = [:]
        for (slot, series) in userWindowSlots.enumerated() {
            if let series { result[userNames[slot]] = series }
        }
        return result
    }

    /// All-time counters by route.
    var routeCounters: [RouteKey: RouteCounters] {
        Dictionary(uniqueKeysWithValues: zip(routeKeys, routeCounterSlots))
    }

    mutating func record(_ sample: QuerySample, at nanos: UInt64) {
        record(durationNanos: sample.durationNanos, waitNanos: sample.waitNanos, database: sample.database,
               user: sample.user, route: sample.route, fingerprint: sample.fingerprint, isError: sample.isError, at: nanos)
    }

    mutating func record(durationNanos: UInt64, waitNanos: UInt64, database: String, user userName: String,
                         route queryRoute: QueryRoute, fingerprint: String?, isError: Bool, at nanos: UInt64) {
        guard settings.enabled else { return }
        let micros = Self.micros(ofNanos: durationNanos)
        let isSlow = durationNanos > thresholdNanos
        let layout = self.layout
        let epoch = layout.epoch(at: nanos)
        if epoch != prunedEpoch { pruneIdleSeries(at: epoch) }

        let route = routeSlot(database: database, route: queryRoute)
        routeCounterSlots[route].record(nanos: durationNanos, waitNanos: waitNanos, isSlow: isSlow, isError: isError)
        if routeWindowSlots[route] == nil { routeWindowSlots[route] = WindowSeries(layout: layout) }
        routeWindowSlots[route]!.record(micros: micros, isSlow: isSlow, isError: isError, epoch: epoch, layout: layout)
        let user = userSlot(userName)
        if userWindowSlots[user] == nil { userWindowSlots[user] = WindowSeries(layout: layout) }
        userWindowSlots[user]!.record(micros: micros, isSlow: isSlow, isError: isError, epoch: epoch, layout: layout)
        waitWindow.record(micros: Self.micros(ofNanos: waitNanos), isSlow: false, isError: false, epoch: epoch, layout: layout)
        if let fingerprint {
            fingerprints.record(fingerprint: fingerprint, micros: micros, isSlow: isSlow, isError: isError)
        }
    }

    /// The slot a sample is counted under; beyond the cap, new databases share the overflow label.
    private mutating func routeSlot(database: String, route: QueryRoute) -> Int {
        if let last = lastRoute, last.key.route == route, last.key.database == database { return last.slot }
        let key = RouteKey(database: database, route: route)
        let slot: Int
        if let known = routeSlotByKey[key] {
            slot = known
        } else {
            let admitted = routeKeys.count < settings.maxDatabaseRoutes
                ? key : RouteKey(database: QueryStatsShard.overflowLabel, route: route)
            slot = routeSlotByKey[admitted] ?? addRoute(admitted)
        }
        lastRoute = (key, slot)
        return slot
    }

    private mutating func addRoute(_ key: RouteKey) -> Int {
        let slot = routeKeys.count
        routeSlotByKey[key] = slot
        routeKeys.append(key)
        routeCounterSlots.append(RouteCounters())
        routeWindowSlots.append(nil)
        return slot
    }

    /// The slot of a user; beyond the cap, new users share the overflow label.
    private mutating func userSlot(_ user: String) -> Int {
        if let last = lastUser, last.name == user { return last.slot }
        let slot: Int
        if let known = userSlotByName[user] {
            slot = known
        } else if admittedUserCount < settings.maxUsers {
            admittedUserCount += 1
            slot = addUser(user)
        } else {
            slot = userSlotByName[QueryStatsShard.overflowLabel] ?? addUser(QueryStatsShard.overflowLabel)
        }
        lastUser = (user, slot)
        return slot
    }

    private mutating func addUser(_ name: String) -> Int {
        let slot = userNames.count
        userSlotByName[name] = slot
        userNames.append(name)
        userWindowSlots.append(nil)
        return slot
    }

    mutating func reconfigure(_ newSettings: StatsSettings) {
        let newLayout = WindowLayout(windowSeconds: newSettings.windowSeconds)
        if newLayout != layout {
            layout = newLayout
            routeWindowSlots = Array(repeating: nil, count: routeWindowSlots.count)
            userWindowSlots = Array(repeating: nil, count: userWindowSlots.count)
            waitWindow = WindowSeries(layout: newLayout)
        }
        if newSettings.maxFingerprints != fingerprints.capacity {
            fingerprints.resize(capacity: newSettings.maxFingerprints)
        }
        thresholdNanos = Self.nanos(ofMs: newSettings.slowThresholdMs)
        settings = newSettings
        // New caps decide anew which names get their own slot.
        lastRoute = nil
        lastUser = nil
    }

    mutating func reset() {
        self = ShardState(settings: settings)
    }

    /// Drops window series that have seen nothing for a whole window, releasing their histograms.
    private mutating func pruneIdleSeries(at epoch: UInt64) {
        prunedEpoch = epoch
        let layout = self.layout
        for slot in routeWindowSlots.indices where routeWindowSlots[slot]?.isIdle(at: epoch, layout: layout) == true {
            routeWindowSlots[slot] = nil
        }
        for slot in userWindowSlots.indices where userWindowSlots[slot]?.isIdle(at: epoch, layout: layout) == true {
            userWindowSlots[slot] = nil
        }
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
