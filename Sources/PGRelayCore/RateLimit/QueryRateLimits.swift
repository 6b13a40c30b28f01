import Synchronization

/// The query rate buckets of every user and database that has a `query_rate_limit`, shared by
/// all event loops. Sessions look their buckets up here once (and again after a reload, which
/// bumps `generation`); per query they only touch the buckets themselves.
///
/// Which limit applies: a user's bucket has the `[users]` entry's `query_rate_limit`, else the
/// global `query_rate_limit` (so the global key limits every user separately); a database's
/// bucket has its `[databases]` entry's `query_rate_limit`. A query needs a turn in both.
public final class QueryRateLimits: Sendable {
    private struct Key: Hashable {
        var scope: QueryRateScope
        var name: String
    }

    private struct State {
        var config: Config
        var buckets: [Key: QueryRateBucket] = [:]
    }

    private let state: Mutex<State>
    private let generationCounter = Atomic<UInt64>(1)
    private let waitNanos: Atomic<Int64>

    public init(config: Config) {
        state = Mutex(State(config: config))
        waitNanos = Atomic(Self.waitNanos(config))
    }

    /// Changes on every reconfiguration, so that sessions look their buckets up again.
    public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// `query_rate_wait_ms` in nanoseconds.
    public var maxWaitNanos: Int64 { waitNanos.load(ordering: .relaxed) }

    /// Whether any limit is configured at all (the hot path skips everything otherwise).
    public static func anyConfigured(_ config: Config) -> Bool {
        config.queryRateLimit > 0 || config.users.contains { ($0.queryRateLimit ?? 0) > 0 }
            || config.databases.contains { ($0.queryRateLimit ?? 0) > 0 }
    }

    /// The rate of `user`'s bucket, or nil when the user is not limited.
    public static func userRate(_ config: Config, user: String) -> QueryRate? {
        let entry = config.user(named: user)
        let limit = (entry?.queryRateLimit).flatMap { $0 > 0 ? $0 : nil } ?? config.queryRateLimit
        guard limit > 0 else { return nil }
        return QueryRate(perSecond: limit, burst: (entry?.queryRateBurst).flatMap { $0 > 0 ? $0 : nil } ?? config.queryRateBurst)
    }

    /// The rate of a database's bucket, or nil when the database is not limited.
    public static func databaseRate(_ config: Config, database: String) -> QueryRate? {
        guard let entry = config.database(named: database), let limit = entry.queryRateLimit, limit > 0 else { return nil }
        return QueryRate(perSecond: limit, burst: entry.queryRateBurst.flatMap { $0 > 0 ? $0 : nil } ?? config.queryRateBurst)
    }

    /// Applies a reloaded configuration: buckets keep their state under a changed rate; buckets
    /// no longer limited are dropped (their sessions stop using them at their next query).
    public func configure(_ config: Config) {
        state.withLock { state in
            state.config = config
            for (key, bucket) in state.buckets {
                let rate = key.scope == .user ? Self.userRate(config, user: key.name) : Self.databaseRate(config, database: key.name)
                if let rate { bucket.rate = rate } else { state.buckets[key] = nil }
            }
        }
        waitNanos.store(Self.waitNanos(config), ordering: .relaxed)
        generationCounter.wrappingAdd(1, ordering: .releasing)
    }

    /// The buckets a query of `user` on `database` needs a turn from (none, one or two).
    public func buckets(user: String, database: String) -> [QueryRateBucket] {
        state.withLock { state in
            var found: [QueryRateBucket] = []
            if let rate = Self.userRate(state.config, user: user) {
                found.append(Self.bucket(Key(scope: .user, name: user), rate: rate, in: &state))
            }
            if let rate = Self.databaseRate(state.config, database: database) {
                found.append(Self.bucket(Key(scope: .database, name: database), rate: rate, in: &state))
            }
            return found
        }
    }

    /// Every bucket in use, users first, each sorted by name (SHOW RATE_LIMITS, /metrics).
    public var allBuckets: [QueryRateBucket] {
        state.withLock { Array($0.buckets.values) }.sorted { ($0.scope == .user ? 0 : 1, $0.name) < ($1.scope == .user ? 0 : 1, $1.name) }
    }

    private static func bucket(_ key: Key, rate: QueryRate, in state: inout State) -> QueryRateBucket {
        if let existing = state.buckets[key] { return existing }
        let bucket = QueryRateBucket(scope: key.scope, name: key.name, rate: rate)
        state.buckets[key] = bucket
        return bucket
    }

    private static func waitNanos(_ config: Config) -> Int64 {
        Int64(Swift.max(0, Swift.min(86_400_000, config.queryRateWaitMs)) * 1e6)
    }
}
