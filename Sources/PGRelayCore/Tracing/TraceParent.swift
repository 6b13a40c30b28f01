/// A W3C trace id: 16 bytes, as two big-endian halves.
public struct TraceID: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 32 lowercase hex digits, as in `traceparent` and OTLP's JSON.
    public var hex: String { HexDigits.string(high) + HexDigits.string(low) }
}

/// A W3C span (parent) id: 8 bytes.
public struct SpanID: Hashable, Sendable {
    public var value: UInt64

    public init(_ value: UInt64) {
        self.value = value
    }

    /// 16 lowercase hex digits.
    public var hex: String { HexDigits.string(value) }
}

/// The W3C Trace Context `traceparent` value (https://www.w3.org/TR/trace-context/#traceparent-header):
/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
public struct TraceParent: Hashable, Sendable {
    public var traceID: TraceID
    public var parentID: SpanID
    public var flags: UInt8

    /// Length of a version-00 value.
    public static let length = 55

    public init(traceID: TraceID, parentID: SpanID, flags: UInt8) {
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    /// The caller sampled this trace (flag bit 0): its spans are recorded.
    public var isSampled: Bool { flags & 1 == 1 }

    /// The value as sent in a header.
    public var header: String {
        "00-" + traceID.hex + "-" + parentID.hex + "-" + HexDigits.string(UInt64(flags)).suffix(2)
    }

    /// Parses a complete value. Follows the specification's rules: lowercase hex only, version
    /// `ff` and all-zero ids are invalid, version 00 is exactly 55 characters, and a later version
    /// may carry more after a `-` (ignored).
    public static func parse(utf8 bytes: UnsafeRawBufferPointer) -> TraceParent? {
        guard bytes.count >= length else { return nil }
        guard let version = hexByte(bytes, at: 0), version != 0xff else { return nil }
        if version == 0 {
            guard bytes.count == length else { return nil }
        } else if bytes.count > length, bytes[length] != UInt8(ascii: "-") {
            return nil
        }
        guard bytes[2] == dash, bytes[35] == dash, bytes[52] == dash,
              let high = hexWord(bytes, at: 3), let low = hexWord(bytes, at: 19),
              let parent = hexWord(bytes, at: 36), let flags = hexByte(bytes, at: 53),
              high | low != 0, parent != 0
        else { return nil }
        return TraceParent(traceID: TraceID(high: high, low: low), parentID: SpanID(parent), flags: flags)
    }

    /// Parses a complete value given as text.
    public static func parse(_ text: String) -> TraceParent? {
        var text = text
        return text.withUTF8 { parse(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// The first valid version-00 value inside `text` (an `application_name` such as
    /// `checkout 00-4bf9...-01`): 55 characters starting `00-`, not inside a longer run of
    /// hex digits and dashes.
    public static func find(in text: String) -> TraceParent? {
        var text = text
        return text.withUTF8 { utf8 -> TraceParent? in
            let bytes = UnsafeRawBufferPointer(utf8)
            guard bytes.count >= length else { return nil }
            for start in 0 ... bytes.count - length where bytes[start] == UInt8(ascii: "0") && bytes[start + 2] == dash {
                if start > 0, isTraceByte(bytes[start - 1]) { continue }
                let end = start + length
                if end < bytes.count, isTraceByte(bytes[end]) { continue }
                if let found = parse(utf8: UnsafeRawBufferPointer(rebasing: bytes[start ..< end])) { return found }
            }
            return nil
        }
    }

    private static let dash = UInt8(ascii: "-")

    private static func isTraceByte(_ byte: UInt8) -> Bool {
        byte == dash || HexDigits.value(byte) != nil
    }

    private static func hexByte(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt8? {
        guard let high = HexDigits.value(bytes[offset]), let low = HexDigits.value(bytes[offset + 1]) else { return nil }
        return high << 4 | low
    }

    private static func hexWord(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64? {
        var value: UInt64 = 0
        for index in offset ..< offset + 16 {
            guard let digit = HexDigits.value(bytes[index]) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}

/// Lowercase hexadecimal, as W3C Trace Context and OTLP's JSON write ids.
enum HexDigits {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The value of a lowercase hex digit (uppercase is invalid in trace context).
    static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    /// 16 digits, zero-padded.
    static func string(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0 ..< 16 {
                buffer[index] = digits[Int((value >> UInt64(60 - 4 * index)) & 0xf)]
            }
            return 16
        }
    }
}
