import Synchronization

/// A query rate (`query_rate_limit`, queries per second) with its burst (`query_rate_burst`), in
/// the form the generic cell rate algorithm uses.
public struct QueryRate: Equatable, Sendable {
    /// The configured rate, queries per second.
    public var perSecond: Double
    /// Time between two queries at the steady rate.
    public var intervalNanos: Int64
    /// How far ahead of the steady rate a burst may run: (burst − 1) intervals.
    public var toleranceNanos: Int64

    /// `perSecond` > 0; `burst` 0 means one second's worth (the rate, rounded up).
    public init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        let interval = Swift.max(1, Swift.min(Double(Int64.max / 4), (1e9 / perSecond).rounded()))
        intervalNanos = Int64(interval)
        let size = burst > 0 ? burst : Int(perSecond.rounded(.up))
        toleranceNanos = Int64(Swift.max(0, Swift.min(1 << 20, size) - 1)) * intervalNanos
    }

    public var burst: Int { Int(toleranceNanos / intervalNanos) + 1 }
}

/// The generic cell rate algorithm (GCRA): a token bucket kept as one number, the theoretical
/// arrival time (TAT) of the next query at the steady rate. A query at `now` may start once
/// `now ≥ TAT − tolerance`; taking its turn moves TAT one interval on. One number means one
/// atomic compare-and-swap per query, shared by every event loop, instead of a lock.
public enum CellRate {
    /// The state after reserving a turn at `now`, and how long the query must wait for it.
    public static func reserve(tat: Int64, now: Int64, rate: QueryRate) -> (tat: Int64, waitNanos: Int64) {
        let base = Swift.max(tat, now)
        return (base &+ rate.intervalNanos, Swift.max(0, base - rate.toleranceNanos - now))
    }
}

/// What a bucket limits.
public enum QueryRateScope: String, Sendable, Hashable {
    case user
    case database
}

/// The shared budget of one user or one database. Every event loop reserves from it with a
/// compare-and-swap on `tat`; the rate can change on reload while queries run.
public final class QueryRateBucket: Sendable {
    public let scope: QueryRateScope
    public let name: String
    private let tat = Atomic<Int64>(0)
    private let interval: Atomic<Int64>
    private let tolerance: Atomic<Int64>
    private let perSecondBits: Atomic<UInt64>
    private let delayedCount = Atomic<UInt64>(0)
    private let refusedCount = Atomic<UInt64>(0)

    public init(scope: QueryRateScope, name: String, rate: QueryRate) {
        self.scope = scope
        self.name = name
        interval = Atomic(rate.intervalNanos)
        tolerance = Atomic(rate.toleranceNanos)
        perSecondBits = Atomic(rate.perSecond.bitPattern)
    }

    public var rate: QueryRate {
        get {
            var rate = QueryRate(perSecond: Double(bitPattern: perSecondBits.load(ordering: .relaxed)), burst: 1)
            rate.intervalNanos = interval.load(ordering: .relaxed)
            rate.toleranceNanos = tolerance.load(ordering: .relaxed)
            return rate
        }
        set {
            interval.store(newValue.intervalNanos, ordering: .relaxed)
            tolerance.store(newValue.toleranceNanos, ordering: .relaxed)
            perSecondBits.store(newValue.perSecond.bitPattern, ordering: .relaxed)
        }
    }

    /// Takes the next turn at `now` (monotonic nanoseconds) and returns how long the query must
    /// wait for it. The turn is taken even when the wait is long: `cancel` gives it back.
    public func reserve(now: Int64) -> Int64 {
        let rate = self.rate
        var current = tat.load(ordering: .relaxed)
        while true {
            let (next, wait) = CellRate.reserve(tat: current, now: now, rate: rate)
            let (exchanged, original) = tat.compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return wait }
            current = original
        }
    }

    /// Gives back a turn taken by `reserve` that will not be used.
    public func cancel() {
        tat.wrappingSubtract(interval.load(ordering: .relaxed), ordering: .relaxed)
    }

    /// Queries that waited for their turn, and queries refused (53400), since start.
    public var delayed: UInt64 { delayedCount.load(ordering: .relaxed) }
    public var refused: UInt64 { refusedCount.load(ordering: .relaxed) }

    func countDelayed() { delayedCount.wrappingAdd(1, ordering: .relaxed) }
    func countRefused() { refusedCount.wrappingAdd(1, ordering: .relaxed) }
}
