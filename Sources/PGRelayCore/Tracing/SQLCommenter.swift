/// Reads the trace context an application put into its SQL the way Google's sqlcommenter does
/// (https://google.github.io/sqlcommenter/spec/): a comment of `key='value'` pairs, separated by
/// commas, values URL-encoded with `'` escaped as `\'`, appended to the statement:
///
///     SELECT * FROM t WHERE id = $1 /*traceparent='00-4bf9...-00f0...-01',route='%2Fcheckout'*/
///
/// Some libraries put the comment first instead; both places are looked at. Only the comment's
/// own bytes are read, never the statement's: its literals stay where they are.
public enum SQLCommenter {
    /// Longest comment read (a sqlcommenter comment holds a few short pairs).
    static let maxCommentLength = 2048

    /// The `traceparent` of the statement's leading or trailing sqlcommenter comment, if any.
    public static func traceParent(inStatement bytes: UnsafeRawBufferPointer) -> TraceParent? {
        if let body = trailingCommentBody(bytes), let found = traceParent(inComment: body) { return found }
        if let body = leadingCommentBody(bytes) { return traceParent(inComment: body) }
        return nil
    }

    /// The bytes between `/*` and `*/` of a comment that ends the statement (blanks and `;`
    /// after it allowed).
    static func trailingCommentBody(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var end = bytes.count
        while end > 0, isBlank(bytes[end - 1]) || bytes[end - 1] == UInt8(ascii: ";") { end -= 1 }
        guard end >= 4, bytes[end - 1] == slash, bytes[end - 2] == star else { return nil }
        let lowest = Swift.max(0, end - 4 - maxCommentLength)
        var start = end - 4
        while start >= lowest {
            if bytes[start] == slash, bytes[start + 1] == star {
                return UnsafeRawBufferPointer(rebasing: bytes[start + 2 ..< end - 2])
            }
            start -= 1
        }
        return nil
    }

    /// The bytes between `/*` and the first `*/` of a comment that starts the statement.
    static func leadingCommentBody(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var start = 0
        while start < bytes.count, isBlank(bytes[start]) { start += 1 }
        guard start + 4 <= bytes.count, bytes[start] == slash, bytes[start + 1] == star else { return nil }
        let limit = Swift.min(bytes.count - 1, start + 2 + maxCommentLength)
        var end = start + 2
        while end < limit {
            if bytes[end] == star, bytes[end + 1] == slash {
                return UnsafeRawBufferPointer(rebasing: bytes[start + 2 ..< end])
            }
            end += 1
        }
        return nil
    }

    /// The `traceparent` pair of a comment body, URL-decoded and parsed.
    static func traceParent(inComment body: UnsafeRawBufferPointer) -> TraceParent? {
        var index = 0
        let count = body.count
        while index < count {
            while index < count, isBlank(body[index]) || body[index] == UInt8(ascii: ",") { index += 1 }
            let keyStart = index
            while index < count, body[index] != UInt8(ascii: "="), body[index] != UInt8(ascii: ",") { index += 1 }
            guard index < count, body[index] == UInt8(ascii: "=") else { return nil }
            let key = UnsafeRawBufferPointer(rebasing: body[keyStart ..< index])
            index += 1
            guard index < count, body[index] == quote else { return nil }
            index += 1
            let valueStart = index
            while index < count, body[index] != quote {
                index += body[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < count else { return nil }
            let value = UnsafeRawBufferPointer(rebasing: body[valueStart ..< index])
            index += 1
            if equalsTraceparent(key) { return decodedTraceParent(value) }
        }
        return nil
    }

    private static let slash = UInt8(ascii: "/")
    private static let star = UInt8(ascii: "*")
    private static let quote = UInt8(ascii: "'")
    private static let traceparentKey = Array("traceparent".utf8)

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0d)
    }

    private static func equalsTraceparent(_ key: UnsafeRawBufferPointer) -> Bool {
        guard key.count == traceparentKey.count else { return false }
        for (index, byte) in key.enumerated() where byte | 0x20 != traceparentKey[index] { return false }
        return true
    }

    /// Undoes the URL encoding (`%2D`) and `\'` escapes of a value into a small stack buffer.
    private static func decodedTraceParent(_ value: UnsafeRawBufferPointer) -> TraceParent? {
        guard value.count <= 3 * 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer -> TraceParent? in
            var length = 0
            var index = 0
            while index < value.count {
                guard length < 64 else { return nil }
                var byte = value[index]
                if byte == UInt8(ascii: "%"), index + 2 < value.count,
                   let high = hexValue(value[index + 1]), let low = hexValue(value[index + 2]) {
                    byte = high << 4 | low
                    index += 3
                } else if byte == UInt8(ascii: "\\"), index + 1 < value.count {
                    byte = value[index + 1]
                    index += 2
                } else {
                    index += 1
                }
                buffer[length] = byte
                length += 1
            }
            return TraceParent.parse(utf8: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0 ..< length]))
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        HexDigits.value(byte | (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F") ? 0x20 : 0))
    }
}
