import PGRelayCore

/// SHOW STATS, STATS_TOTALS, STATS_AVERAGES and TOTALS: pool counters summed per database, and
/// averages over the last `stats_period`. PgBouncer types every counter numeric.
extension ConsoleTables {
    /// PgBouncer's counter names, in its order (SHOW STATS_TOTALS spells them without `total_`).
    static let counterNames = [
        "server_assignment_count", "xact_count", "query_count", "bytes_received", "bytes_sent",
        "xact_time", "query_time", "wait_time",
    ]

    static func stats(_ runtime: ProxyRuntime) -> ConsoleTable {
        let names = ["database", "total_server_assignment_count", "total_xact_count", "total_query_count", "total_received",
                     "total_sent", "total_xact_time", "total_query_time", "total_wait_time", "total_client_parse_count",
                     "total_server_parse_count", "total_bind_count", "avg_server_assignment_count", "avg_xact_count",
                     "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time",
                     "avg_client_parse_count", "avg_server_parse_count", "avg_bind_count",
                     // Read by exporters written for PgBouncer < 1.8 (Debian's 1.7): = total_query_count.
                     "total_requests"]
        var table = ConsoleTable(names.enumerated().map { ($0.element, $0.offset == 0 ? .text : .numeric) })
        for (database, counters) in runtime.countersByDatabase() {
            let averages = runtime.statsPeriods.averages(database: database)
            table.add([database] + values(counters) + values(averages) + ["\(counters.queries)"])
        }
        return table
    }

    static func statsTotals(_ runtime: ProxyRuntime) -> ConsoleTable {
        let names = ["database"] + counterNames + ["client_parse_count", "server_parse_count", "bind_count"]
        var table = ConsoleTable(names.enumerated().map { ($0.element, $0.offset == 0 ? .text : .numeric) })
        for (database, counters) in runtime.countersByDatabase() {
            table.add([database] + values(counters))
        }
        return table
    }

    static func statsAverages(_ runtime: ProxyRuntime) -> ConsoleTable {
        let names = ["database"] + counterNames + ["avg_client_parse_count", "avg_server_parse_count", "avg_bind_count"]
        var table = ConsoleTable(names.enumerated().map { ($0.element, $0.offset == 0 ? .text : .numeric) })
        for (database, _) in runtime.countersByDatabase() {
            table.add([database] + values(runtime.statsPeriods.averages(database: database)))
        }
        return table
    }

    /// Name/value rows: totals over every pool, then their averages (PgBouncer's SHOW TOTALS).
    static func totals(_ runtime: ProxyRuntime) -> ConsoleTable {
        var table = ConsoleTable([("name", .text), ("value", .numeric)])
        let total = runtime.countersByDatabase().map(\.counters).reduce(PoolCounters(), +)
        let names = ["server_assignment_count", "xact_count", "query_count", "client_bytes", "server_bytes", "xact_time",
                     "query_time", "wait_time", "ps_client_parse_count", "ps_server_parse_count", "ps_bind_count"]
        for (name, value) in zip(names, values(total)) { table.add(["total_" + name, value]) }
        for (name, value) in zip(names, values(runtime.statsPeriods.overallAverages())) { table.add(["avg_" + name, value]) }
        return table
    }

    static func values(_ c: PoolCounters) -> [String?] {
        [c.serverAssignments, c.transactions, c.queries, c.bytesReceived, c.bytesSent, c.transactionMicros, c.queryMicros,
         c.waitMicros, c.clientParses, c.serverParses, c.binds].map { "\($0)" }
    }
}
