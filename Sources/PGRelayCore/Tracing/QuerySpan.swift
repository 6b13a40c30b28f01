/// One traced query, as exported: what the database leg of a request looked like. It carries
/// the statement's fingerprint (literals masked), never its text.
public struct QuerySpan: Equatable, Sendable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// The application's span (from its `traceparent`); nil for a trace pgrelay started.
    public var parentID: SpanID?
    public var startUnixNanos: UInt64
    public var endUnixNanos: UInt64
    public var database: String
    public var user: String
    public var route: QueryRoute
    public var serverHost: String?
    public var serverPort: Int?
    public var fingerprint: String?
    /// SQLSTATE of the ErrorResponse that ended the request, if one did.
    public var sqlState: String?
    /// Time the request waited for a server connection before it was sent, in nanoseconds.
    public var waitNanos: UInt64

    public init(traceID: TraceID, spanID: SpanID, parentID: SpanID?, startUnixNanos: UInt64, endUnixNanos: UInt64,
                database: String, user: String, route: QueryRoute, serverHost: String? = nil, serverPort: Int? = nil,
                fingerprint: String? = nil, sqlState: String? = nil, waitNanos: UInt64 = 0) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentID = parentID
        self.startUnixNanos = startUnixNanos
        self.endUnixNanos = endUnixNanos
        self.database = database
        self.user = user
        self.route = route
        self.serverHost = serverHost
        self.serverPort = serverPort
        self.fingerprint = fingerprint
        self.sqlState = sqlState
        self.waitNanos = waitNanos
    }

    /// The span's name, after OpenTelemetry's database conventions: the statement's first
    /// keyword and the database (`SELECT appdb`), or `query appdb` without a fingerprint.
    public var name: String {
        guard let fingerprint else { return "query " + database }
        let keyword = fingerprint.prefix { $0.isLetter }
        return (keyword.isEmpty ? "query" : keyword.uppercased()) + " " + database
    }
}

/// Encodes spans as an OTLP/HTTP JSON export request (`ExportTraceServiceRequest`,
/// https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids as lowercase hex,
/// 64-bit numbers as decimal strings, enums as numbers.
public enum OTLPTraceJSON {
    /// OTLP's `SPAN_KIND_CLIENT`: pgrelay is the client of the database.
    static let clientKind: Int64 = 3
    /// OTLP's `STATUS_CODE_ERROR`.
    static let errorStatus: Int64 = 2

    public static func encode(_ spans: [QuerySpan], serviceName: String, serviceVersion: String) -> [UInt8] {
        let resource: JSONValue = .object([("attributes", .array([
            attribute("service.name", .string(serviceName)),
            attribute("service.version", .string(serviceVersion)),
        ]))])
        let scope: JSONValue = .object([("name", .string("pgrelay")), ("version", .string(serviceVersion))])
        let document: JSONValue = .object([("resourceSpans", .array([.object([
            ("resource", resource),
            ("scopeSpans", .array([.object([("scope", scope), ("spans", .array(spans.map(span)))])])),
        ])]))])
        return Array(document.serialized.utf8)
    }

    static func span(_ span: QuerySpan) -> JSONValue {
        var attributes: [JSONValue] = [
            attribute("db.system", .string("postgresql")),
            attribute("db.name", .string(span.database)),
            attribute("db.user", .string(span.user)),
            attribute("pgrelay.route", .string(span.route.rawValue)),
            attribute("pgrelay.wait_ms", .double(Double(span.waitNanos) / 1e6)),
        ]
        if let fingerprint = span.fingerprint { attributes.append(attribute("db.statement", .string(fingerprint))) }
        if let host = span.serverHost { attributes.append(attribute("server.address", .string(host))) }
        if let port = span.serverPort { attributes.append(attribute("server.port", .int(Int64(port)))) }
        var fields: [(String, JSONValue)] = [
            ("traceId", .string(span.traceID.hex)),
            ("spanId", .string(span.spanID.hex)),
        ]
        if let parent = span.parentID { fields.append(("parentSpanId", .string(parent.hex))) }
        fields += [
            ("name", .string(span.name)),
            ("kind", .int(clientKind)),
            ("startTimeUnixNano", .string(String(span.startUnixNanos))),
            ("endTimeUnixNano", .string(String(span.endUnixNanos))),
        ]
        if let sqlState = span.sqlState {
            attributes.append(attribute("db.response.status_code", .string(sqlState)))
            attributes.append(attribute("error.type", .string(sqlState)))
            fields.append(("attributes", .array(attributes)))
            fields.append(("status", .object([("code", .int(errorStatus)), ("message", .string("SQLSTATE " + sqlState))])))
        } else {
            fields.append(("attributes", .array(attributes)))
        }
        return .object(fields)
    }

    private static func attribute(_ key: String, _ value: JSONValue) -> JSONValue {
        let typed: (String, JSONValue)
        switch value {
        case .int(let number): typed = ("intValue", .string(String(number)))
        case .double: typed = ("doubleValue", value)
        case .bool: typed = ("boolValue", value)
        default: typed = ("stringValue", value)
        }
        return .object([("key", .string(key)), ("value", .object([typed]))])
    }
}
