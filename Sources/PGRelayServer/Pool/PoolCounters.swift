/// Totals one pool accumulates for SHOW STATS / STATS_TOTALS / STATS_AVERAGES and /metrics, in
/// PgBouncer's units (bytes, microseconds). Updated under the pool's lock.
struct PoolCounters: Sendable, Equatable {
    var serverAssignments: UInt64 = 0
    var transactions: UInt64 = 0
    var queries: UInt64 = 0
    var bytesReceived: UInt64 = 0
    var bytesSent: UInt64 = 0
    var transactionMicros: UInt64 = 0
    var queryMicros: UInt64 = 0
    var waitMicros: UInt64 = 0
    var clientParses: UInt64 = 0
    var serverParses: UInt64 = 0
    var binds: UInt64 = 0

    static func - (lhs: PoolCounters, rhs: PoolCounters) -> PoolCounters {
        func d(_ a: UInt64, _ b: UInt64) -> UInt64 { a >= b ? a - b : 0 }
        return PoolCounters(
            serverAssignments: d(lhs.serverAssignments, rhs.serverAssignments), transactions: d(lhs.transactions, rhs.transactions),
            queries: d(lhs.queries, rhs.queries), bytesReceived: d(lhs.bytesReceived, rhs.bytesReceived),
            bytesSent: d(lhs.bytesSent, rhs.bytesSent), transactionMicros: d(lhs.transactionMicros, rhs.transactionMicros),
            queryMicros: d(lhs.queryMicros, rhs.queryMicros), waitMicros: d(lhs.waitMicros, rhs.waitMicros),
            clientParses: d(lhs.clientParses, rhs.clientParses), serverParses: d(lhs.serverParses, rhs.serverParses),
            binds: d(lhs.binds, rhs.binds))
    }
}
