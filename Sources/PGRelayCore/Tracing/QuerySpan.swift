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
/// 64-bit numbers as decimal strings, enums as numbers. Each span is written straight into the
/// buffer's memory, after making room for its longest possible form once (building it as
/// `JSONValue` and serializing that cost ~350,000 instructions per span, writing through
/// `ByteBuffer`'s per-call API ~19,000; this way a few thousand).
public enum OTLPTraceJSON {
    public static func encode(_ spans: [QuerySpan], serviceName: String, serviceVersion: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 512 + spans.count * 900)
        write(into: &buffer, room: 256 + 6 * (serviceName.utf8.count + 2 * serviceVersion.utf8.count)) { out in
            out.raw("{\"resourceSpans\":[{\"resource\":{\"attributes\":[")
            out.attribute("service.name", string: serviceName)
            out.raw(",")
            out.attribute("service.version", string: serviceVersion)
            out.raw("]},\"scopeSpans\":[{\"scope\":{\"name\":\"pgrelay\",\"version\":")
            out.string(serviceVersion)
            out.raw("},\"spans\":[")
        }
        for (index, span) in spans.enumerated() {
            let name = span.name
            // Every string may grow sixfold by escaping (\u00XX); the rest is under 1 KiB.
            let strings = name.utf8.count + span.database.utf8.count + span.user.utf8.count
                + (span.fingerprint?.utf8.count ?? 0) + (span.serverHost?.utf8.count ?? 0) + 3 * (span.sqlState?.utf8.count ?? 0)
            write(into: &buffer, room: 1024 + 6 * strings) { out in
                if index > 0 { out.raw(",") }
                write(span, name: name, to: &out)
            }
        }
        buffer.writeStaticString("]}]}]}")
        return buffer
    }

    private static func write(into buffer: inout ByteBuffer, room: Int, _ body: (inout JSONCursor) -> Void) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { memory in
            var cursor = JSONCursor(memory)
            body(&cursor)
            return cursor.position
        }
    }

    static func write(_ span: QuerySpan, name: String, to out: inout JSONCursor) {
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
        out.string(name)
        // 3: SPAN_KIND_CLIENT (pgrelay is the client of the database).
        out.raw(",\"kind\":3,\"startTimeUnixNano\":\"")
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
            // 2: STATUS_CODE_ERROR.
            out.raw("],\"status\":{\"code\":2,\"message\":\"SQLSTATE ")
            out.escaped(sqlState)
            out.raw("\"}}")
        } else {
            out.raw("]}")
        }
    }
}

/// Writes JSON into memory the caller made room for (`OTLPTraceJSON`'s bound per span).
struct JSONCursor {
    private let memory: UnsafeMutableRawBufferPointer
    private(set) var position = 0

    init(_ memory: UnsafeMutableRawBufferPointer) {
        self.memory = memory
    }

    private mutating func copy(_ bytes: UnsafeRawBufferPointer) {
        precondition(position + bytes.count <= memory.count, "JSONCursor: the room made for a span was too small")
        UnsafeMutableRawBufferPointer(rebasing: memory[position ..< position + bytes.count]).copyMemory(from: bytes)
        position += bytes.count
    }

    private mutating func byte(_ value: UInt8) {
        precondition(position < memory.count, "JSONCursor: the room made for a span was too small")
        memory[position] = value
        position += 1
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { copy(UnsafeRawBufferPointer($0)) }
    }

    /// A quoted string.
    mutating func string(_ value: String) {
        byte(UInt8(ascii: "\""))
        escaped(value)
        byte(UInt8(ascii: "\""))
    }

    /// A string's contents: `"`, `\` and control characters escaped, everything else (valid
    /// UTF-8, as every Swift string is) copied, in one run when nothing needs escaping.
    mutating func escaped(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                copy(UnsafeRawBufferPointer(utf8))
                return
            }
            for code in utf8 {
                switch code {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    byte(UInt8(ascii: "\\"))
                    byte(code)
                case 0 ..< 0x20:
                    raw("\\u00")
                    byte(Self.hexDigit(code >> 4))
                    byte(Self.hexDigit(code & 0xf))
                default:
                    byte(code)
                }
            }
        }
    }

    mutating func number(_ value: UInt64) {
        var digits = 1
        var scale = value
        while scale >= 10 {
            scale /= 10
            digits += 1
        }
        precondition(position + digits <= memory.count, "JSONCursor: the room made for a span was too small")
        var rest = value
        for index in stride(from: position + digits - 1, through: position, by: -1) {
            memory[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        position += digits
    }

    /// 16 lowercase hex digits.
    mutating func hex(_ value: UInt64) {
        precondition(position + 16 <= memory.count, "JSONCursor: the room made for a span was too small")
        for index in 0 ..< 16 {
            memory[position + index] = Self.hexDigit(UInt8((value >> UInt64(60 - 4 * index)) & 0xf))
        }
        position += 16
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
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
