import NIOConcurrencyHelpers
import NIOCore

/// PgBouncer's SHOW STATS averages over one `stats_period`: counts and bytes per second, times
/// per transaction, query and server assignment (microseconds), integer arithmetic as PgBouncer.
/// Same fields as the totals, so the same type.
typealias PoolAverages = PoolCounters

extension PoolCounters {
    /// Averages of what happened between `previous` and `current`, `micros` apart.
    init(current: PoolCounters, previous: PoolCounters, micros: UInt64) {
        self.init()
        guard micros > 0 else { return }
        let delta = current - previous
        func perSecond(_ count: UInt64) -> UInt64 {
            let (product, overflow) = count.multipliedReportingOverflow(by: 1_000_000)
            return overflow ? count / max(1, micros / 1_000_000) : product / micros
        }
        serverAssignments = perSecond(delta.serverAssignments)
        transactions = perSecond(delta.transactions)
        queries = perSecond(delta.queries)
        bytesReceived = perSecond(delta.bytesReceived)
        bytesSent = perSecond(delta.bytesSent)
        clientParses = perSecond(delta.clientParses)
        serverParses = perSecond(delta.serverParses)
        binds = perSecond(delta.binds)
        if delta.queries > 0 { queryMicros = delta.queryMicros / delta.queries }
        if delta.transactions > 0 { transactionMicros = delta.transactionMicros / delta.transactions }
        if delta.serverAssignments > 0 { waitMicros = delta.waitMicros / delta.serverAssignments }
    }
}

extension PoolCounters {
    static func + (lhs: PoolCounters, rhs: PoolCounters) -> PoolCounters {
        PoolCounters(
            serverAssignments: lhs.serverAssignments &+ rhs.serverAssignments, transactions: lhs.transactions &+ rhs.transactions,
            queries: lhs.queries &+ rhs.queries, bytesReceived: lhs.bytesReceived &+ rhs.bytesReceived,
            bytesSent: lhs.bytesSent &+ rhs.bytesSent, transactionMicros: lhs.transactionMicros &+ rhs.transactionMicros,
            queryMicros: lhs.queryMicros &+ rhs.queryMicros, waitMicros: lhs.waitMicros &+ rhs.waitMicros,
            clientParses: lhs.clientParses &+ rhs.clientParses, serverParses: lhs.serverParses &+ rhs.serverParses,
            binds: lhs.binds &+ rhs.binds)
    }
}

/// Keeps the per-database counters seen at the last two `stats_period` boundaries, so that SHOW
/// STATS / STATS_AVERAGES / TOTALS report the averages of the last complete period, as PgBouncer.
final class StatsPeriodTracker: @unchecked Sendable {
    private struct Mark {
        var at: NIODeadline
        var totals: [String: PoolCounters]
    }

    private let lock = NIOLock()
    private var older: Mark?
    private var newer: Mark?

    /// Rolls the marks when `period` seconds have passed since the newer one (called about once
    /// a second; the first call only sets a mark). True when this call completed a period.
    @discardableResult
    func tick(totals: @autoclosure () -> [String: PoolCounters], period: Int, now: NIODeadline) -> Bool {
        lock.withLock {
            if let newer, now - newer.at < .seconds(Int64(max(1, period))) { return false }
            older = newer
            newer = Mark(at: now, totals: totals())
            return older != nil
        }
    }

    /// Averages of every database over the last complete period, in name order (for log_stats).
    func periodAverages() -> [(database: String, averages: PoolAverages)] {
        lock.withLock {
            guard let older, let newer else { return [] }
            let micros = Self.micros(from: older.at, to: newer.at)
            return newer.totals.keys.sorted().map { database in
                (database, PoolAverages(current: newer.totals[database] ?? PoolCounters(),
                                        previous: older.totals[database] ?? PoolCounters(), micros: micros))
            }
        }
    }

    /// Averages of `database` over the last complete period (zeros before one has passed).
    func averages(database: String) -> PoolAverages {
        lock.withLock {
            guard let older, let newer else { return PoolAverages() }
            return PoolAverages(current: newer.totals[database] ?? PoolCounters(), previous: older.totals[database] ?? PoolCounters(),
                                micros: Self.micros(from: older.at, to: newer.at))
        }
    }

    /// Averages over every database, for SHOW TOTALS.
    func overallAverages() -> PoolAverages {
        lock.withLock {
            guard let older, let newer else { return PoolAverages() }
            let sum = { (totals: [String: PoolCounters]) in totals.values.reduce(PoolCounters(), +) }
            return PoolAverages(current: sum(newer.totals), previous: sum(older.totals), micros: Self.micros(from: older.at, to: newer.at))
        }
    }

    private static func micros(from start: NIODeadline, to end: NIODeadline) -> UInt64 {
        UInt64(max(0, (end - start).nanoseconds / 1000))
    }
}

extension ProxyRuntime {
    /// Pool counters summed per database, databases in name order.
    func countersByDatabase() -> [(database: String, counters: PoolCounters)] {
        var sums: [String: PoolCounters] = [:]
        for pool in allPools() { sums[pool.key.database, default: PoolCounters()] = sums[pool.key.database, default: PoolCounters()] + pool.counters }
        let console = consoleCounters.withLockedValue { $0 }
        if console != PoolCounters() { sums["pgbouncer", default: PoolCounters()] = sums["pgbouncer", default: PoolCounters()] + console }
        return sums.keys.sorted().map { ($0, sums[$0] ?? PoolCounters()) }
    }

    /// Called once a second by the maintenance timer. With `log_stats`, a completed period gets
    /// one info line per database, as PgBouncer's "stats: ..." lines.
    func rollStatsPeriod(now: NIODeadline = .now()) {
        let config = self.config
        let completed = statsPeriods.tick(
            totals: Dictionary(uniqueKeysWithValues: countersByDatabase().map { ($0.database, $0.counters) }),
            period: config.statsPeriod, now: now)
        guard completed, config.logStats else { return }
        for (database, averages) in statsPeriods.periodAverages() {
            logger.info("\(averages.statsLogLine)", metadata: ["database": "\(database)"])
        }
    }
}

extension PoolAverages {
    /// PgBouncer's log_stats wording: rates per second, then times per transaction, query and
    /// server assignment in microseconds.
    var statsLogLine: String {
        "stats: \(transactions) xacts/s, \(queries) queries/s, in \(bytesReceived) B/s, out \(bytesSent) B/s, "
            + "xact \(transactionMicros) us, query \(queryMicros) us, wait \(waitMicros) us"
    }
}
