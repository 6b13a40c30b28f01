/// The type of a Prometheus metric family.
public enum PrometheusMetricType: String, Sendable {
    case counter
    case gauge
    case histogram
    case untyped
}

/// One sample the server contributes to `/metrics` (pool, client, server and routing figures).
public struct PrometheusSample: Equatable, Sendable {
    /// Metric name; characters Prometheus does not allow are replaced by `_`.
    public var name: String
    /// Help text of the family (taken from its first sample).
    public var help: String
    public var type: PrometheusMetricType
    /// Label pairs in output order; values are escaped on output.
    public var labels: [(String, String)]
    public var value: Double

    /// Creates a sample.
    public init(name: String, help: String, type: PrometheusMetricType, labels: [(String, String)] = [], value: Double) {
        self.name = name
        self.help = help
        self.type = type
        self.labels = labels
        self.value = value
    }

    public static func == (lhs: PrometheusSample, rhs: PrometheusSample) -> Bool {
        lhs.name == rhs.name && lhs.help == rhs.help && lhs.type == rhs.type && lhs.value == rhs.value
            && lhs.labels.count == rhs.labels.count && zip(lhs.labels, rhs.labels).allSatisfy { $0 == $1 }
    }
}

/// Writes the Prometheus text exposition format 0.0.4.
///
/// Families are written in order of first appearance, each with HELP and TYPE exactly once and its
/// samples together, as the format requires.
public struct PrometheusTextWriter {
    /// The Content-Type of the output.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private struct Family {
        var help: String
        var type: PrometheusMetricType
        var lines: [String] = []
    }

    private var order: [String] = []
    private var families: [String: Family] = [:]

    /// An empty exposition.
    public init() {}

    /// Whether a family of that (sanitized) name exists already.
    public func contains(family name: String) -> Bool {
        families[Self.sanitizedName(name)] != nil
    }

    /// Declares a family; later declarations of the same name keep the first help and type.
    public mutating func declare(_ name: String, help: String, type: PrometheusMetricType) {
        let family = Self.sanitizedName(name)
        guard families[family] == nil else { return }
        order.append(family)
        families[family] = Family(help: help, type: type)
    }

    /// Adds a sample line to the family `family` (declared before). `suffix` is `_bucket`, `_sum`,
    /// `_count` for histogram series, empty otherwise.
    public mutating func add(family name: String, suffix: String = "", labels: [(String, String)], value: Double) {
        let family = Self.sanitizedName(name)
        guard families[family] != nil else { return }
        var line = family + suffix
        if !labels.isEmpty {
            line += "{"
            line += labels.map { Self.sanitizedLabelName($0.0) + "=\"" + Self.escapeLabelValue($0.1) + "\"" }
                .joined(separator: ",")
            line += "}"
        }
        line += " " + Self.format(value)
        families[family]?.lines.append(line)
    }

    /// Adds a generic sample (a counter, gauge or untyped value), declaring its family on first
    /// sight. A sample whose name belongs to a family of another type is dropped, since mixing
    /// types would make the output invalid; so is a lone `.histogram` sample, which cannot form a
    /// histogram (those are written with `declare` and `add(family:suffix:labels:value:)`).
    public mutating func add(_ sample: PrometheusSample) {
        let family = Self.sanitizedName(sample.name)
        guard sample.type != .histogram else { return }
        if let existing = families[family], existing.type != sample.type { return }
        declare(family, help: sample.help, type: sample.type)
        add(family: family, labels: sample.labels, value: sample.value)
    }

    /// The exposition text.
    public var text: String {
        var output = ""
        for name in order {
            guard let family = families[name] else { continue }
            output += "# HELP \(name) \(Self.escapeHelp(family.help))\n"
            output += "# TYPE \(name) \(family.type.rawValue)\n"
            for line in family.lines { output += line + "\n" }
        }
        return output
    }

    // MARK: Escaping and formatting

    /// Metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*`; anything else becomes `_`.
    public static func sanitizedName(_ name: String) -> String {
        sanitize(name, allowColon: true)
    }

    /// Label names match `[a-zA-Z_][a-zA-Z0-9_]*`.
    public static func sanitizedLabelName(_ name: String) -> String {
        sanitize(name, allowColon: false)
    }

    private static func sanitize(_ name: String, allowColon: Bool) -> String {
        var result = ""
        for (index, scalar) in name.unicodeScalars.enumerated() {
            let isLetter = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_"
                || (allowColon && scalar == ":")
            let isDigit = scalar >= "0" && scalar <= "9"
            result.unicodeScalars.append(isLetter || (isDigit && index > 0) ? scalar : "_")
        }
        return result.isEmpty ? "_" : result
    }

    /// Label values escape backslash, double quote and line feed.
    public static func escapeLabelValue(_ value: String) -> String {
        escape(value, quotes: true)
    }

    /// HELP text escapes backslash and line feed.
    public static func escapeHelp(_ help: String) -> String {
        escape(help, quotes: false)
    }

    private static func escape(_ text: String, quotes: Bool) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\"" where quotes: result += "\\\""
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Sample values: integers without a fraction, others in Swift's shortest form, and the
    /// spellings Prometheus uses for the special values.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), Swift.abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// The query-statistics part of `/metrics`, followed by whatever the server contributes.
public enum PrometheusExposition {
    /// Metric families this renderer owns; server samples with these names are dropped.
    public static let ownFamilies: Set<String> = [
        "pgrelay_query_duration_seconds", "pgrelay_queries_total", "pgrelay_slow_queries_total",
        "pgrelay_query_errors_total", "pgrelay_query_wait_seconds_total", "pgrelay_health_status",
        "pgrelay_window_slow_ratio", "pgrelay_window_query_latency_seconds", "pgrelay_fingerprints",
    ]

    /// The complete exposition text.
    public static func render(_ snapshot: QueryStatsSnapshot, extra: [PrometheusSample] = []) -> String {
        var writer = PrometheusTextWriter()
        writeStatistics(snapshot, to: &writer)
        for sample in extra where !ownFamilies.contains(PrometheusTextWriter.sanitizedName(sample.name)) {
            writer.add(sample)
        }
        return writer.text
    }

    private static func writeStatistics(_ snapshot: QueryStatsSnapshot, to writer: inout PrometheusTextWriter) {
        let histogram = "pgrelay_query_duration_seconds"
        writer.declare(histogram, help: "Query latency from forward to ReadyForQuery, since start.", type: .histogram)
        let bounds = RouteTotals.bucketBounds
        for totals in snapshot.routeTotals {
            let labels = [("database", totals.database), ("route", totals.route.rawValue)]
            for (bound, count) in zip(bounds + ["+Inf"], totals.cumulativeBuckets) {
                writer.add(family: histogram, suffix: "_bucket", labels: labels + [("le", bound)], value: Double(count))
            }
            writer.add(family: histogram, suffix: "_sum", labels: labels, value: totals.sumSeconds)
            writer.add(family: histogram, suffix: "_count", labels: labels, value: Double(totals.count))
        }
        let counters: [(String, String, (RouteTotals) -> Double)] = [
            ("pgrelay_queries_total", "Queries finished, since start.", { Double($0.count) }),
            ("pgrelay_slow_queries_total", "Queries slower than slow_query_threshold_ms, since start.", { Double($0.slow) }),
            ("pgrelay_query_errors_total", "Queries that ended in an error, since start.", { Double($0.errors) }),
            ("pgrelay_query_wait_seconds_total", "Time queries waited for a server connection, since start.", { $0.waitSumSeconds }),
        ]
        for (name, help, value) in counters {
            writer.declare(name, help: help, type: .counter)
            for totals in snapshot.routeTotals {
                writer.add(family: name, labels: [("database", totals.database), ("route", totals.route.rawValue)],
                           value: value(totals))
            }
        }
        writer.declare("pgrelay_health_status", help: "Health by slow share of the window: 0 healthy, 1 degraded, 2 unhealthy.", type: .gauge)
        writer.add(family: "pgrelay_health_status", labels: [], value: Double(snapshot.health.gaugeValue))
        writer.declare("pgrelay_window_slow_ratio", help: "Share of slow queries in the rolling window.", type: .gauge)
        writer.add(family: "pgrelay_window_slow_ratio", labels: [], value: snapshot.overall.slowRatio)
        let quantiles = "pgrelay_window_query_latency_seconds"
        writer.declare(quantiles, help: "Latency percentiles over the rolling window (HDR, 3 significant digits).", type: .gauge)
        let overall = snapshot.overall
        for (quantile, ms) in [("0.5", overall.p50Ms), ("0.9", overall.p90Ms), ("0.95", overall.p95Ms), ("0.99", overall.p99Ms)] {
            writer.add(family: quantiles, labels: [("quantile", quantile)], value: ms / 1000)
        }
        writer.declare("pgrelay_fingerprints", help: "Fingerprints held in the per-shard LRU tables.", type: .gauge)
        writer.add(family: "pgrelay_fingerprints", labels: [], value: Double(snapshot.fingerprintCount))
    }
}
