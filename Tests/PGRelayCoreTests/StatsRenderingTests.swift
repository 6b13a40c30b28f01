import Foundation
import XCTest
@testable import PGRelayCore

final class StatsRenderingTests: XCTestCase {
    private func populatedSnapshot() -> QueryStatsSnapshot {
        let registry = QueryStatsRegistry(shardCount: 2, settings: StatsSettings(), clock: ManualClock().function)
        for index in 0 ..< 100 {
            registry.shard(at: index).record(sample(
                ms: index < 7 ? 150 : Double(index % 10 + 1), database: index % 2 == 0 ? "appdb" : "other\"db\n",
                user: "app", route: index % 4 == 0 ? .replica : .primary,
                fingerprint: index < 7 ? "SELECT pg_sleep($1)" : "SELECT * FROM t WHERE id = $1", waitMs: 0.5))
        }
        return registry.snapshot()
    }

    private func parse(_ json: JSONValue) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(json.serialized.utf8))
        return try XCTUnwrap(object as? [String: Any])
    }

    private func assertSummaryShape(_ value: Any?, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let summary = value as? [String: Any] else { return XCTFail("\(context) not an object", file: file, line: line) }
        XCTAssertNotNil(summary["total"] as? Int, context, file: file, line: line)
        XCTAssertNotNil(summary["slow"] as? Int, context, file: file, line: line)
        XCTAssertNotNil(summary["slow_ratio"] as? Double, context, file: file, line: line)
        let latency = summary["latency_ms"] as? [String: Any]
        XCTAssertEqual(Set(latency?.keys.map { $0 } ?? []), ["min", "avg", "max", "p50", "p90", "p95", "p99"], context,
                       file: file, line: line)
        XCTAssertTrue(latency?.values.allSatisfy { $0 is Double || $0 is Int } ?? false, context, file: file, line: line)
    }

    func testQueriesDocumentHasTheInterfaceShape() throws {
        let snapshot = populatedSnapshot()
        let document = try parse(QueryStatsJSON.queries(snapshot))
        XCTAssertEqual(document["window_s"] as? Int, 60)
        XCTAssertEqual(document["threshold_ms"] as? Int, 100)
        XCTAssertEqual(document["total"] as? Int, 100)
        XCTAssertEqual(document["slow"] as? Int, 7)
        XCTAssertEqual(document["slow_ratio"] as? Double, 0.07)
        XCTAssertEqual(document["status"] as? String, "degraded")
        assertSummaryShape(document, "top level")
        let byRoute = try XCTUnwrap(document["by_route"] as? [String: Any])
        XCTAssertEqual(Set(byRoute.keys), ["primary", "replica"])
        for (route, summary) in byRoute { assertSummaryShape(summary, "by_route.\(route)") }
        let byDatabase = try XCTUnwrap(document["by_database"] as? [String: Any])
        XCTAssertEqual(Set(byDatabase.keys), ["appdb", "other\"db\n"])
        for (database, summary) in byDatabase { assertSummaryShape(summary, "by_database.\(database)") }
        assertSummaryShape((document["by_user"] as? [String: Any])?["app"], "by_user.app")
        let wait = try XCTUnwrap(document["wait_ms"] as? [String: Any])
        XCTAssertEqual(wait["p50"] as? Double, 0.5)
        let top = try XCTUnwrap(document["top_slow"] as? [[String: Any]])
        XCTAssertEqual(top.first?["fingerprint"] as? String, "SELECT pg_sleep($1)")
        XCTAssertEqual(top.first?["calls"] as? Int, 7)
        XCTAssertEqual(top.first?["slow"] as? Int, 7)
        for key in ["p50_ms", "p99_ms", "max_ms"] { XCTAssertNotNil(top.first?[key] as? Double, key) }
        let totals = try XCTUnwrap(document["totals"] as? [String: Any])
        XCTAssertEqual(totals["total"] as? Int, 100)
    }

    func testQueriesDocumentKeyOrderIsDeterministic() {
        let text = QueryStatsJSON.queries(populatedSnapshot()).serialized
        XCTAssertTrue(text.hasPrefix("{\"window_s\":60,\"threshold_ms\":100,\"status\":\"degraded\",\"total\":100,"), text)
        XCTAssertEqual(text, QueryStatsJSON.queries(populatedSnapshot()).serialized)
    }

    func testEmptySnapshotRendersZerosNotNulls() throws {
        let snapshot = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(), clock: ManualClock().function).snapshot()
        let document = try parse(QueryStatsJSON.queries(snapshot))
        XCTAssertEqual(document["status"] as? String, "healthy")
        XCTAssertEqual(document["slow_ratio"] as? Int, 0)
        assertSummaryShape(document, "empty")
        XCTAssertEqual((document["top_slow"] as? [Any])?.count, 0)
    }

    func testHealthDocument() throws {
        let backends = [
            BackendHealth(database: "appdb", host: "127.0.0.1", port: 5432, role: "primary", up: true),
            BackendHealth(database: "appdb", host: "127.0.0.1", port: 5433, role: "replica", up: false, lagMs: 12.5,
                          reason: "replication lag 12 ms"),
        ]
        let document = try parse(QueryStatsJSON.health(populatedSnapshot(), backends: backends))
        XCTAssertEqual(document["status"] as? String, "degraded")
        XCTAssertEqual(document["slow_ratio"] as? Double, 0.07)
        XCTAssertEqual(document["window_s"] as? Int, 60)
        let listed = try XCTUnwrap(document["backends"] as? [[String: Any]])
        XCTAssertEqual(listed.count, 2)
        XCTAssertEqual(Set(listed[0].keys), ["database", "host", "port", "role", "up", "lag_ms", "reason", "role_changed_at"])
        XCTAssertTrue(listed[0]["role_changed_at"] is NSNull, "only hosts= servers have a discovered role")
        let discovered = try parse(QueryStatsJSON.health(populatedSnapshot(), backends: [
            BackendHealth(database: "app", host: "db2", port: 5432, role: "primary", up: true, roleChangedAt: 1_796_313_600.25),
        ]))
        let primary = try XCTUnwrap((discovered["backends"] as? [[String: Any]])?.first)
        XCTAssertEqual(primary["role_changed_at"] as? String, "2026-12-03T16:00:00.250Z")
        XCTAssertTrue(listed[0]["lag_ms"] is NSNull)
        XCTAssertTrue(listed[0]["reason"] is NSNull)
        XCTAssertEqual(listed[1]["reason"] as? String, "replication lag 12 ms")
        XCTAssertEqual(listed[1]["up"] as? Bool, false)
        XCTAssertEqual(listed[1]["lag_ms"] as? Double, 12.5)
        XCTAssertEqual(listed[1]["port"] as? Int, 5433)
    }

    func testJSONWriterEscapingAndNumbers() throws {
        let cases: [(JSONValue, String)] = [
            (.string("a\"b\\c\n\r\t\u{01}\u{7F}é😀"), "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u007fé😀\""),
            (.double(.nan), "null"),
            (.double(.infinity), "null"),
            (.double(0.05), "0.05"),
            (.double(2), "2"),
            (.double(-1.5e-7), "-1.5e-07"),
            (.double(1e20), "1e+20"),
            (.int(-3), "-3"),
            (.count(.max), "9223372036854775807"),
            (.rounded(1.23456), "1.235"),
            (.array([.null, .bool(true), .object([])]), "[null,true,{}]"),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(value.serialized, expected)
            // Every output must be valid JSON.
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(value.serialized.utf8), options: .fragmentsAllowed),
                             expected)
        }
        let roundTrip = try JSONSerialization.jsonObject(with: Data(JSONValue.string("x\u{00}\u{1F}\"y").serialized.utf8),
                                                         options: .fragmentsAllowed)
        XCTAssertEqual(roundTrip as? String, "x\u{00}\u{1F}\"y")
    }

    // MARK: Prometheus

    /// A strict reading of one sample line: name{labels} value.
    private func parseSampleLine(_ line: String) -> (name: String, labels: [String: String], value: Double)? {
        var rest = Substring(line)
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
        guard !name.isEmpty else { return nil }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let labelName = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                rest = rest.dropFirst(labelName.count)
                guard !labelName.isEmpty, rest.hasPrefix("=\"") else { return nil }
                rest = rest.dropFirst(2)
                var value = ""
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\" {
                        guard let escaped = rest.first else { return nil }
                        rest = rest.dropFirst()
                        switch escaped {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: return nil
                        }
                    } else {
                        guard character != "\n" else { return nil }
                        value.append(character)
                    }
                }
                guard rest.first == "\"" else { return nil }
                rest = rest.dropFirst()
                labels[String(labelName)] = value
                if rest.first == "," { rest = rest.dropFirst() }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { return nil }
        let valueText = rest.dropFirst()
        let value: Double?
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default: value = Double(valueText)
        }
        return value.map { (String(name), labels, $0) }
    }

    func testPrometheusTextIsValidExposition() throws {
        let extra = [
            PrometheusSample(name: "pgrelay_pool_active_servers", help: "Servers in use.", type: .gauge,
                             labels: [("database", "appdb"), ("user", "a\\b\"c\nd")], value: 3),
            PrometheusSample(name: "pgrelay_route_reads_total", help: "Reads sent to replicas.", type: .counter, value: 12),
            PrometheusSample(name: "pgrelay_pool_active_servers", help: "other help ignored", type: .gauge,
                             labels: [("database", "x")], value: 1),
            PrometheusSample(name: "pgrelay_pool_active_servers", help: "", type: .counter, value: 9),   // type clash: dropped
            PrometheusSample(name: "pgrelay_queries_total", help: "clash with ours", type: .counter, value: 1),
            PrometheusSample(name: "pgrelay_lone_histogram", help: "cannot stand alone", type: .histogram, value: 1),
            PrometheusSample(name: "bad-name.x", help: "multi\nline \\ help", type: .gauge, labels: [("0bad", "v")], value: .nan),
        ]
        let text = PrometheusExposition.render(populatedSnapshot(), extra: extra)
        XCTAssertTrue(text.hasSuffix("\n"))
        var helps: [String: Int] = [:], types: [String: String] = [:], typeCounts: [String: Int] = [:]
        var samples: [(name: String, labels: [String: String], value: Double)] = []
        var currentFamily = ""
        var finishedFamilies: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") {
                let name = String(line.dropFirst(7).prefix { $0 != " " })
                helps[name, default: 0] += 1
                XCTAssertFalse(finishedFamilies.contains(name), "family \(name) split")
                if !currentFamily.isEmpty { finishedFamilies.insert(currentFamily) }
                currentFamily = name
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                XCTAssertEqual(parts.count, 2, String(line))
                types[String(parts[0])] = String(parts[1])
                typeCounts[String(parts[0]), default: 0] += 1
                XCTAssertEqual(String(parts[0]), currentFamily, "TYPE follows its HELP")
            } else {
                let parsed = try XCTUnwrap(parseSampleLine(String(line)), "unparseable: \(line)")
                XCTAssertTrue(parsed.name.hasPrefix(currentFamily), "\(parsed.name) outside its family \(currentFamily)")
                samples.append(parsed)
            }
        }
        XCTAssertTrue(helps.values.allSatisfy { $0 == 1 }, "\(helps)")
        XCTAssertTrue(typeCounts.values.allSatisfy { $0 == 1 })
        XCTAssertEqual(types["pgrelay_query_duration_seconds"], "histogram")
        XCTAssertEqual(types["pgrelay_queries_total"], "counter")
        XCTAssertEqual(types["pgrelay_slow_queries_total"], "counter")
        XCTAssertEqual(types["pgrelay_health_status"], "gauge")
        XCTAssertEqual(types["pgrelay_pool_active_servers"], "gauge")
        XCTAssertEqual(types["bad_name_x"], "gauge")
        XCTAssertTrue(text.contains("# HELP bad_name_x multi\\nline \\\\ help\n"))
        XCTAssertEqual(samples.first { $0.name == "pgrelay_health_status" }?.value, 1)
        XCTAssertEqual(samples.filter { $0.name == "pgrelay_pool_active_servers" }.map(\.value), [3, 1])
        XCTAssertEqual(samples.first { $0.name == "pgrelay_pool_active_servers" }?.labels["user"], "a\\b\"c\nd")
        XCTAssertEqual(samples.filter { $0.name == "pgrelay_queries_total" }.map(\.value).reduce(0, +), 100,
                       "the server's clashing sample is dropped")
        XCTAssertNotNil(samples.first { $0.name == "bad_name_x" }?.labels["_bad"])
        XCTAssertNil(types["pgrelay_lone_histogram"])

        // Histogram series: cumulative buckets ending in +Inf == _count, per (database, route).
        let buckets = samples.filter { $0.name == "pgrelay_query_duration_seconds_bucket" }
        let series = Dictionary(grouping: buckets) { "\($0.labels["database"]!)|\($0.labels["route"]!)" }
        XCTAssertEqual(series.count, 3, "appdb on both routes, the other database only on the primary")
        for (key, lines) in series {
            XCTAssertEqual(lines.map { $0.labels["le"]! }, RouteTotals.bucketBounds + ["+Inf"], key)
            XCTAssertEqual(lines.map(\.value), lines.map(\.value).sorted(), "\(key) cumulative")
            let count = samples.first {
                $0.name == "pgrelay_query_duration_seconds_count" && "\($0.labels["database"]!)|\($0.labels["route"]!)" == key
            }
            XCTAssertEqual(lines.last?.value, count?.value, key)
        }
        let totalCount = samples.filter { $0.name == "pgrelay_query_duration_seconds_count" }.map(\.value).reduce(0, +)
        XCTAssertEqual(totalCount, 100)
        let sum = samples.filter { $0.name == "pgrelay_query_duration_seconds_sum" }.map(\.value).reduce(0, +)
        var expectedSum = 7 * 0.15
        for index in 7 ..< 100 { expectedSum += Double(index % 10 + 1) / 1000 }
        XCTAssertEqual(sum, expectedSum, accuracy: 1e-9)
    }

    func testDurationBucketIndexIsTheFirstBoundAtOrAbove() {
        XCTAssertEqual(DurationBuckets.index(forNanos: 0), 0)
        XCTAssertEqual(DurationBuckets.index(forNanos: 500_000), 0)
        XCTAssertEqual(DurationBuckets.index(forNanos: 500_001), 1)
        XCTAssertEqual(DurationBuckets.index(forNanos: 10_000_000_000), DurationBuckets.bounds.count - 1)
        XCTAssertEqual(DurationBuckets.index(forNanos: 10_000_000_001), DurationBuckets.bounds.count)
        XCTAssertEqual(DurationBuckets.bounds.map(\.nanos), DurationBuckets.bounds.map(\.nanos).sorted())
    }

    func testPrometheusValueFormatting() {
        XCTAssertEqual(PrometheusTextWriter.format(3), "3")
        XCTAssertEqual(PrometheusTextWriter.format(0.25), "0.25")
        XCTAssertEqual(PrometheusTextWriter.format(.infinity), "+Inf")
        XCTAssertEqual(PrometheusTextWriter.format(-.infinity), "-Inf")
        XCTAssertEqual(PrometheusTextWriter.format(.nan), "NaN")
        XCTAssertEqual(PrometheusTextWriter.sanitizedName("9lives:x-y"), "_lives:x_y")
        XCTAssertEqual(PrometheusTextWriter.sanitizedLabelName("a:b"), "a_b")
        XCTAssertEqual(PrometheusTextWriter.sanitizedName(""), "_")
    }
}
