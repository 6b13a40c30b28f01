import Foundation
import PGRelayCore

/// pgrelay's own SHOW commands: QUERIES (top fingerprints), HEALTH and ROUTES.
extension ConsoleTables {
    static func queries(_ snapshot: QueryStatsSnapshot) -> ConsoleTable {
        var table = ConsoleTable([
            ("fingerprint", .text), ("calls", .int8), ("slow", .int8), ("errors", .int8), ("avg_ms", .float8),
            ("p50_ms", .float8), ("p99_ms", .float8), ("max_ms", .float8),
        ])
        for entry in snapshot.topSlow {
            table.add([entry.fingerprint, "\(entry.calls)", "\(entry.slow)", "\(entry.errors)", milliseconds(entry.avgMs),
                       milliseconds(entry.p50Ms), milliseconds(entry.p99Ms), milliseconds(entry.maxMs)])
        }
        return table
    }

    static func health(_ snapshot: QueryStatsSnapshot, backends: [BackendHealth]) -> ConsoleTable {
        var table = ConsoleTable([
            ("status", .text), ("slow_ratio", .float8), ("window_s", .int4), ("threshold_ms", .float8), ("total", .int8),
            ("slow", .int8), ("errors", .int8), ("min_ms", .float8), ("avg_ms", .float8), ("max_ms", .float8), ("p50_ms", .float8),
            ("p90_ms", .float8), ("p95_ms", .float8), ("p99_ms", .float8), ("backends", .int4), ("backends_down", .int4),
        ])
        let overall = snapshot.overall
        table.add([
            snapshot.health.rawValue, "\(overall.slowRatio)", "\(snapshot.windowSeconds)", milliseconds(snapshot.thresholdMs),
            "\(overall.count)", "\(overall.slow)", "\(overall.errors)", milliseconds(overall.minMs), milliseconds(overall.avgMs),
            milliseconds(overall.maxMs), milliseconds(overall.p50Ms), milliseconds(overall.p90Ms), milliseconds(overall.p95Ms),
            milliseconds(overall.p99Ms), "\(backends.count)", "\(backends.filter { !$0.up }.count)",
        ])
        return table
    }

    /// One row per (database, backend, role): its servers, its pools' counters and the timed
    /// queries of that database and route.
    static func routes(_ runtime: ProxyRuntime) -> ConsoleTable {
        var table = ConsoleTable([
            ("database", .text), ("host", .text), ("port", .int4), ("role", .text), ("up", .text), ("sv_active", .int4),
            ("sv_idle", .int4), ("sv_used", .int4), ("sv_login", .int4), ("server_assignment_count", .numeric),
            ("xact_count", .numeric), ("query_count", .numeric), ("query_time", .numeric), ("timed_queries", .numeric),
            ("slow_queries", .numeric), ("query_errors", .numeric), ("status", .text), ("lag_ms", .float8),
            ("routed_queries", .numeric), ("bans", .numeric), ("role_changed_at", .text),
        ])
        let routeTotals = runtime.stats.snapshot().routeTotals
        let routing = runtime.routing.counters
        for route in runtime.backendRoutes() {
            var active = 0, idle = 0, used = 0, login = 0
            var counters = PoolCounters()
            for pool in route.pools {
                let counts = pool.counts()
                active += counts.active
                idle += counts.idle
                used += counts.busy
                login += counts.connecting
                counters = counters + pool.counters
            }
            // The timed totals are per (database, route): a route's figures show on each backend of that role.
            let timed = routeTotals.first { $0.database == route.database && $0.route.rawValue == route.role.rawValue }
            table.add([
                route.database, route.address.host, "\(route.address.port)", route.role.rawValue, route.isUp ? "yes" : "no",
                "\(active)", "\(idle)", "\(used)", "\(login)", "\(counters.serverAssignments)", "\(counters.transactions)",
                "\(counters.queries)", "\(counters.queryMicros)", "\(timed?.count ?? 0)", "\(timed?.slow ?? 0)", "\(timed?.errors ?? 0)",
                route.checked?.status.rawValue ?? "unchecked", route.lagMs.map { milliseconds($0) },
                "\(routing.queriesPerBackend[route.id] ?? 0)", "\(routing.bans[route.id] ?? 0)",
                route.roleChangedAt.map { timestamp(Date(timeIntervalSince1970: $0)) },
            ])
        }
        return table
    }

    /// Milliseconds with three decimals, as /metrics/queries rounds them.
    static func milliseconds(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return "\((value * 1000).rounded() / 1000)"
    }
}

extension ConsoleTables {
    /// SHOW RATE_LIMITS: one row per user or database bucket in use (query_rate_limit), with the
    /// queries it made wait and refused since start.
    static func rateLimits(_ buckets: [QueryRateBucket]) -> ConsoleTable {
        var table = ConsoleTable([
            ("scope", .text), ("name", .text), ("queries_per_second", .float8), ("burst", .int4),
            ("delayed", .numeric), ("refused", .numeric),
        ])
        for bucket in buckets {
            let rate = bucket.rate
            table.add([bucket.scope.rawValue, bucket.name, "\(rate.perSecond)", "\(rate.burst)", "\(bucket.delayed)", "\(bucket.refused)"])
        }
        return table
    }
}
