/// The JSON bodies of `GET /metrics/queries` and `GET /health` (shapes from INTERFACE.md).
public enum QueryStatsJSON {
    /// The `/metrics/queries` document.
    public static func queries(_ snapshot: QueryStatsSnapshot) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("window_s", .int(Int64(snapshot.windowSeconds))),
            ("threshold_ms", .rounded(snapshot.thresholdMs)),
            ("status", .string(snapshot.health.rawValue)),
        ]
        members += summaryMembers(snapshot.overall)
        members += [
            ("wait_ms", latency(snapshot.wait)),
            ("by_route", .object(QueryRoute.allCases.map { ($0.rawValue, summary(snapshot.byRoute[$0] ?? .empty)) })),
            ("by_database", summaries(snapshot.byDatabase)),
            ("by_user", summaries(snapshot.byUser)),
            ("top_slow", .array(snapshot.topSlow.map(fingerprint))),
            ("totals", totals(snapshot.totals)),
        ]
        return .object(members)
    }

    /// The `/health` document.
    public static func health(_ snapshot: QueryStatsSnapshot, backends: [BackendHealth]) -> JSONValue {
        .object([
            ("status", .string(snapshot.health.rawValue)),
            ("slow_ratio", .double(snapshot.overall.slowRatio)),
            ("window_s", .int(Int64(snapshot.windowSeconds))),
            ("total", .count(snapshot.overall.count)),
            ("slow", .count(snapshot.overall.slow)),
            ("backends", .array(backends.map(backend))),
        ])
    }

    /// `{"total","slow","slow_ratio","errors","latency_ms":{...}}`, the shape repeated per route,
    /// database and user.
    public static func summary(_ summary: LatencySummary) -> JSONValue {
        .object(summaryMembers(summary))
    }

    static func summaryMembers(_ summary: LatencySummary) -> [(String, JSONValue)] {
        [
            ("total", .count(summary.count)),
            ("slow", .count(summary.slow)),
            ("slow_ratio", .double(summary.slowRatio)),
            ("errors", .count(summary.errors)),
            ("latency_ms", latency(summary)),
        ]
    }

    private static func latency(_ summary: LatencySummary) -> JSONValue {
        .object([
            ("min", .rounded(summary.minMs)), ("avg", .rounded(summary.avgMs)), ("max", .rounded(summary.maxMs)),
            ("p50", .rounded(summary.p50Ms)), ("p90", .rounded(summary.p90Ms)),
            ("p95", .rounded(summary.p95Ms)), ("p99", .rounded(summary.p99Ms)),
        ])
    }

    private static func summaries(_ byName: [String: LatencySummary]) -> JSONValue {
        .object(byName.keys.sorted().map { ($0, summary(byName[$0] ?? .empty)) })
    }

    private static func fingerprint(_ entry: FingerprintSummary) -> JSONValue {
        .object([
            ("fingerprint", .string(entry.fingerprint)),
            ("calls", .count(entry.calls)),
            ("slow", .count(entry.slow)),
            ("errors", .count(entry.errors)),
            ("avg_ms", .rounded(entry.avgMs)),
            ("p50_ms", .rounded(entry.p50Ms)),
            ("p99_ms", .rounded(entry.p99Ms)),
            ("max_ms", .rounded(entry.maxMs)),
        ])
    }

    private static func totals(_ totals: QueryTotals) -> JSONValue {
        .object([
            ("total", .count(totals.count)),
            ("slow", .count(totals.slow)),
            ("errors", .count(totals.errors)),
            ("latency_ms", .object([
                ("min", .rounded(totals.minMs)), ("avg", .rounded(totals.avgMs)), ("max", .rounded(totals.maxMs)),
            ])),
            ("avg_wait_ms", .rounded(totals.avgWaitMs)),
        ])
    }

    private static func backend(_ backend: BackendHealth) -> JSONValue {
        .object([
            ("database", .string(backend.database)),
            ("host", .string(backend.host)),
            ("port", .int(Int64(backend.port))),
            ("role", .string(backend.role)),
            ("up", .bool(backend.up)),
            ("lag_ms", backend.lagMs.map { .rounded($0) } ?? .null),
            ("reason", backend.reason.map { .string($0) } ?? .null),
            ("role_changed_at", backend.roleChangedAt.map { .string(ISO8601Time.text(secondsSince1970: $0)) } ?? .null),
        ])
    }
}
