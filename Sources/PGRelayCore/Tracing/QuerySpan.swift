import NIOCore

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
        let keyword = fingerprint.utf8.prefix { $0 | 0x20 >= UInt8(ascii: "a") && $0 | 0x20 <= UInt8(ascii: "z") }
        return (keyword.isEmpty ? "query" : String(decoding: keyword, as: UTF8.self).uppercased()) + " " + database
    }
}

/// Encodes spans as an OTLP/HTTP JSON export request (`ExportTraceServiceRequest`,
/// https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids as lowercase hex,
/// 64-bit numbers as decimal strings, enums as numbers. Written byte by byte into one buffer
/// (building it as `JSONValue` and serializing that cost ~350,000 instructions per span, more
/// than the query itself; this way it is a few thousand).
public enum OTLPTraceJSON {
    /// OTLP's `SPAN_KIND_CLIENT`: pgrelay is the client of the database.
    static let clientKind = 3
    /// OTLP's `STATUS_CODE_ERROR`.
    static let errorStatus = 2

    public static func encode(_ spans: [QuerySpan], serviceName: String, serviceVersion: String) -> ByteBuffer {
        var out = JSONBytes(capacity: 256 + spans.count * 900)
        out.raw("{\"resourceSpans\":[{\"resource\":{\"attributes\":[")
        out.attribute("service.name", string: serviceName)
        out.raw(",")
        out.attribute("service.version", string: serviceVersion)
        out.raw("]},\"scopeSpans\":[{\"scope\":{\"name\":\"pgrelay\",\"version\":")
        out.string(serviceVersion)
        out.raw("},\"spans\":[")
        for (index, span) in spans.enumerated() {
            if index > 0 { out.raw(",") }
            write(span, to: &out)
        }
        out.raw("]}]}]}")
        return out.buffer
    }

    static func write(_ span: QuerySpan, to out: inout JSONBytes) {
        out.raw("{\"traceId\":\"")
        out.hex(span.traceID.high)
        out.hex(span.traceID.low)
        out.raw("\",\"spanId\":\"")
        out.hex(span.spanID.value)
        if let parent = span.parentID {
            out.raw("\",\"parentSpanId\":\"")
            out.hex(parent.value)
        }
        out.raw("\",\"name\":")
        out.string(span.name)
        out.raw(",\"kind\":")
        out.number(UInt64(clientKind))
        out.raw(",\"startTimeUnixNano\":\"")
        out.number(span.startUnixNanos)
        out.raw("\",\"endTimeUnixNano\":\"")
        out.number(span.endUnixNanos)
        out.raw("\",\"attributes\":[")
        out.attribute("db.system", string: "postgresql")
        out.raw(",")
        out.attribute("db.name", string: span.database)
        out.raw(",")
        out.attribute("db.user", string: span.user)
        out.raw(",")
        out.attribute("pgrelay.route", string: span.route.rawValue)
        out.raw(",")
        out.attribute("pgrelay.wait_us", int: span.waitNanos / 1000)
        if let fingerprint = span.fingerprint {
            out.raw(",")
            out.attribute("db.statement", string: fingerprint)
        }
        if let host = span.serverHost {
            out.raw(",")
            out.attribute("server.address", string: host)
        }
        if let port = span.serverPort {
            out.raw(",")
            out.attribute("server.port", int: UInt64(max(0, port)))
        }
        if let sqlState = span.sqlState {
            out.raw(",")
            out.attribute("db.response.status_code", string: sqlState)
            out.raw(",")
            out.attribute("error.type", string: sqlState)
            out.raw("],\"status\":{\"code\":")
            out.number(UInt64(errorStatus))
            out.raw(",\"message\":")
            out.string("SQLSTATE " + sqlState)
            out.raw("}}")
        } else {
            out.raw("]}")
        }
    }
}

/// A JSON document written straight into a `ByteBuffer` (OTLP export): no intermediate values,
/// and strings, numbers and ids copied in runs rather than byte by byte.
struct JSONBytes {
    private(set) var buffer: ByteBuffer
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    init(capacity: Int) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    mutating func raw(_ text: StaticString) {
        buffer.writeStaticString(text)
    }

    /// A quoted string; `"`, `\` and control characters escaped, everything else (valid UTF-8,
    /// as every Swift string is) copied.
    mutating func string(_ value: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        let plain = value.utf8.withContiguousStorageIfAvailable { utf8 in
            !utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        }
        if plain == true {
            buffer.writeString(value)
        } else {
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    buffer.writeInteger(UInt8(ascii: "\\"))
                    buffer.writeInteger(byte)
                case 0 ..< 0x20:
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(Self.hexDigits[Int(byte >> 4)])
                    buffer.writeInteger(Self.hexDigits[Int(byte & 0xf)])
                default:
                    buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    mutating func number(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            var rest = value
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[start...]))
        }
    }

    /// 16 lowercase hex digits.
    mutating func hex(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { digits in
            Self.hexDigits.withUnsafeBufferPointer { table in
                for index in 0 ..< 16 {
                    digits[index] = table[Int((value >> UInt64(60 - 4 * index)) & 0xf)]
                }
            }
            buffer.writeBytes(UnsafeRawBufferPointer(digits))
        }
    }

    mutating func attribute(_ key: StaticString, string value: String) {
        raw("{\"key\":\"")
        raw(key)
        raw("\",\"value\":{\"stringValue\":")
        string(value)
        raw("}}")
    }

    /// OTLP JSON writes 64-bit integers as strings.
    mutating func attribute(_ key: StaticString, int value: UInt64) {
        raw("{\"key\":\"")
        raw(key)
        raw("\",\"value\":{\"intValue\":\"")
        number(value)
        raw("\"}}")
    }
}
