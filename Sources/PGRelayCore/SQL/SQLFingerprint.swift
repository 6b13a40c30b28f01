/// Turns statement text into a fingerprint that is safe to log and to use as a metrics key:
/// `SELECT * FROM t WHERE id = 42 AND name = 'x'` → `SELECT * FROM t WHERE id = $1 AND name = $2`.
///
/// Rules (docs/routing.md, "Fingerprints"):
/// - every literal becomes `$n`: numbers (a unary minus included), `'...'`, `E'...'`, `N'...'`,
///   `U&'...'` (with its UESCAPE), `B'...'`, `X'...'`, `$$...$$`, `$tag$...$tag$`, and strings
///   continued over a newline; TRUE, FALSE and NULL are keywords and stay; typed literals keep
///   their type (`interval '1 day'` → `interval $1`);
/// - `n` counts on from the largest `$k` already in the text, as `pg_query_normalize` does, and
///   existing parameters stay as written;
/// - an IN list of only constants and parameters collapses to its first element, so lists of
///   any length share a fingerprint: `IN (1, 2, 3)` → `IN ($1)`;
/// - comments are dropped (they may hold literals or secrets), each run of whitespace and
///   comments becomes one space, and the text is trimmed along with its trailing `;`;
/// - the value of a statement-level SET is masked even when unquoted (`SET x = on` →
///   `SET x = $1`), except DEFAULT and LOCAL;
/// - identifiers and keywords keep their case; statements are joined by `; `;
/// - the result is at most `maximumLength` bytes, then cut at a character boundary and marked
///   with `truncationMarker`;
/// - an unterminated string, quoted identifier or comment is masked or dropped to the end.
public enum SQLFingerprint {
    /// Default bound on a fingerprint's length in bytes, marker excluded.
    public static let maximumLength = 2000
    /// Appended to a fingerprint that was cut.
    public static let truncationMarker = " ..."

    /// The fingerprint of `sql`, at most `maximumLength` bytes plus the truncation marker.
    public static func normalize(_ sql: String, maximumLength: Int = SQLFingerprint.maximumLength) -> String {
        SQLLexer.withLexer(over: sql) { normalize(lexer: $0, maximumLength: maximumLength) }
    }

    /// The fingerprint of statement text given as bytes (e.g. straight from a ByteBuffer).
    /// Bytes that are not valid UTF-8 come out as U+FFFD.
    public static func normalize(utf8 bytes: UnsafeRawBufferPointer, maximumLength: Int = SQLFingerprint.maximumLength) -> String {
        bytes.withMemoryRebound(to: UInt8.self) { normalize(lexer: SQLLexer(bytes: $0), maximumLength: maximumLength) }
    }

    private static func normalize(lexer: SQLLexer, maximumLength: Int) -> String {
        var writer = FingerprintWriter(lexer: lexer, maximumLength: max(0, maximumLength))
        return writer.run()
    }
}

/// One normalization run; `SQLFingerprint.normalize` is its only user.
private struct FingerprintWriter {
    private var lexer: SQLLexer
    private let maximumLength: Int
    private var output: [UInt8] = []
    private var nextParameter: Int
    private var previous: SQLToken?
    private var setClause = SetClause.none
    private var pendingSpace = false
    private var pendingSeparator = false
    private var truncated = false

    init(lexer: SQLLexer, maximumLength: Int) {
        self.lexer = lexer
        self.maximumLength = maximumLength
        self.nextParameter = Self.largestParameter(lexer) + 1
        output.reserveCapacity(min(lexer.bytes.count, maximumLength) + 8)
    }

    /// The largest `$k` in the text; numbers too large to be a parameter saturate.
    private static func largestParameter(_ lexer: SQLLexer) -> Int {
        // Most texts have no `$` at all: a byte scan spares them a second lexing pass.
        guard lexer.bytes.contains(UInt8(ascii: "$")) else { return 0 }
        var probe = lexer
        var largest = 0
        while let token = probe.next() {
            guard token.kind == .parameter else { continue }
            var value = 0
            for index in (token.start + 1)..<token.end {
                value = min(value * 10 + Int(probe.bytes[index] - UInt8(ascii: "0")), 1_000_000_000)
            }
            largest = max(largest, value)
        }
        return largest
    }

    mutating func run() -> String {
        while !truncated, let token = lexer.next() {
            switch token.kind {
            case .whitespace, .lineComment, .blockComment:
                pendingSpace = true
            case .semicolon:
                pendingSeparator = pendingSeparator || previous != nil
                previous = nil
                pendingSpace = false
            default:
                previous = emitSignificant(token)
            }
        }
        if truncated { appendMarker() }
        let text = String(decoding: output, as: UTF8.self)
        // Each invalid byte of the input became a 3-byte U+FFFD: cut again so that the bound
        // on the length holds for what is stored and shown.
        let bound = maximumLength + (truncated ? SQLFingerprint.truncationMarker.utf8.count : 0)
        guard text.utf8.count > bound else { return text }
        var kept = String.UnicodeScalarView()
        var length = 0
        for scalar in text.unicodeScalars {
            length += UTF8.width(scalar)
            if length > maximumLength { break }
            kept.append(scalar)
        }
        return String(kept) + SQLFingerprint.truncationMarker
    }

    /// Writes `token` (and any tokens it absorbs); returns the token that now precedes what follows.
    private mutating func emitSignificant(_ token: SQLToken) -> SQLToken {
        if previous == nil, pendingSeparator, !output.isEmpty {
            append("; ")
        } else if pendingSpace, !output.isEmpty {
            append(" ")
        }
        pendingSpace = false
        pendingSeparator = false
        if previous == nil {
            setClause = lexer.matches(token, "set") ? .name : .none
        } else if setClause == .value, token.kind == .identifier || token.kind == .quotedIdentifier,
                  !lexer.matches(token, "default"), !lexer.matches(token, "local") {
            // `SET my.password = hunter2`: an unquoted value is a constant too
            appendParameter()
            return token
        } else if setClause == .name, startsSetValue(token) {
            setClause = .value
        }
        if !token.isTerminated, token.kind == .quotedIdentifier {
            appendParameter()  // a malformed name may be a misquoted secret
            return token
        }
        switch token.kind {
        case .string:
            appendParameter()
            absorbStringContinuation(after: token)
        case .dollarString, .number:
            appendParameter()
        case .operator where isUnaryMinus(token):
            appendParameter()
            return lexer.nextSignificant() ?? token  // the number the minus belongs to
        case .identifier where lexer.matches(token, "in"):
            append(token)
            return collapseInList(after: token) ?? token
        default:
            append(token)
        }
        return token
    }

    // MARK: - Literal shapes

    /// Where a statement-level SET is: before its value, or in it.
    private enum SetClause {
        case none, name, value
    }

    /// The token after which a SET's value starts: `=`, `TO`, or the keyword of a special form
    /// (SET ROLE, SET SESSION AUTHORIZATION, SET TIME ZONE, SET NAMES, SET SCHEMA, SET XML OPTION).
    private func startsSetValue(_ token: SQLToken) -> Bool {
        if token.kind == .operator {
            return token.length == 1 && lexer.bytes[token.start] == UInt8(ascii: "=")
        }
        return Self.setValueKeywords.contains { lexer.matches(token, $0) }
    }

    private static let setValueKeywords: [StaticString] = [
        "to", "role", "authorization", "zone", "names", "schema", "option",
    ]

    /// `-` before a number where no operand precedes it is part of the constant (`= -1`).
    private func isUnaryMinus(_ token: SQLToken) -> Bool {
        guard token.length == 1, lexer.bytes[token.start] == UInt8(ascii: "-") else { return false }
        var probe = lexer
        guard let next = probe.nextSignificant(), next.kind == .number else { return false }
        guard let previous else { return true }
        switch previous.kind {
        case .quotedIdentifier, .string, .dollarString, .number, .parameter, .closeParen, .closeBracket:
            return false
        case .identifier:
            return Self.keywordsBeforeExpression.contains { lexer.matches(previous, $0) }
        default:
            return true
        }
    }

    /// Keywords after which an expression starts, so a following `-` is a sign.
    private static let keywordsBeforeExpression: [StaticString] = [
        "select", "where", "and", "or", "not", "when", "then", "else", "between", "limit", "offset",
        "values", "return", "returning", "in", "is", "like", "ilike", "by", "on", "having", "distinct",
        "all", "any", "some", "case", "as", "set", "to", "default", "interval", "fetch", "first",
    ]

    /// PostgreSQL joins `'a'` and `'b'` separated by whitespace holding a newline into one
    /// constant; a UESCAPE clause belongs to its U&'' string.
    private mutating func absorbStringContinuation(after token: SQLToken) {
        var probe = lexer
        var sawNewline = false
        while let next = probe.next() {
            if next.kind == .whitespace || next.kind == .lineComment {
                sawNewline = sawNewline || containsNewline(next)
                continue
            }
            if next.kind == .string, sawNewline, lexer.bytes[next.start] == UInt8(ascii: "'") {
                lexer = probe
                sawNewline = false
                continue
            }
            if next.kind == .identifier, probe.matches(next, "uescape") {
                var escapeProbe = probe
                if let escape = escapeProbe.nextSignificant(), escape.kind == .string {
                    lexer = escapeProbe
                }
            }
            return
        }
        lexer = probe
    }

    private func containsNewline(_ token: SQLToken) -> Bool {
        (token.start..<token.end).contains { lexer.bytes[$0] == 0x0A || lexer.bytes[$0] == 0x0D }
    }

    /// After IN: `( c1, c2, ... )` with only constants and parameters becomes `($n)` (or the
    /// first parameter); any other list is left to the normal rules.
    /// Returns the closing parenthesis when it collapsed the list.
    private mutating func collapseInList(after inKeyword: SQLToken) -> SQLToken? {
        var probe = lexer
        guard let open = probe.nextSignificant(), open.kind == .openParen else { return nil }
        var firstElement: SQLToken?
        var expectElement = true
        while let token = probe.nextSignificant() {
            if expectElement {
                var element = token
                if token.kind == .operator, token.length == 1, probe.bytes[token.start] == UInt8(ascii: "-") {
                    guard let number = probe.nextSignificant(), number.kind == .number else { return nil }
                    element = number
                }
                guard element.isTerminated,
                      element.kind == .string || element.kind == .number || element.kind == .parameter
                        || element.kind == .dollarString else { return nil }
                if firstElement == nil { firstElement = element }
                expectElement = false
            } else if token.kind == .comma {
                expectElement = true
            } else if token.kind == .closeParen {
                guard let firstElement else { return nil }
                lexer = probe
                if open.start > inKeyword.end { append(" ") }
                append("(")
                if firstElement.kind == .parameter { append(firstElement) } else { appendParameter() }
                append(")")
                return token
            } else {
                return nil
            }
        }
        return nil
    }

    // MARK: - Output

    private mutating func appendParameter() {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var value = nextParameter
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
                count += 1
            } while value > 0 && count < buffer.count
        }
        if gluesToParameter() { appendByte(UInt8(ascii: " ")) }
        appendByte(UInt8(ascii: "$"))
        withUnsafeBytes(of: &digits) { buffer in
            for index in stride(from: count - 1, through: 0, by: -1) { appendByte(buffer[index]) }
        }
        nextParameter += 1
    }

    /// True when a `$n` written now would merge with the output before it into another token:
    /// `e` + `$1` is the identifier `e$1`, a stray `$` + `$1` opens a dollar quote. The source
    /// had the replaced literal there, which kept them apart; a blank does that now.
    private func gluesToParameter() -> Bool {
        var index = output.count - 1
        while index >= 0, SQLLexer.isDigit(output[index]) { index -= 1 }
        guard index >= 0 else { return false }
        let byte = output[index]
        if index == output.count - 1 { return SQLLexer.isIdentifierStart(byte) || byte == UInt8(ascii: "$") }
        return SQLLexer.isIdentifierStart(byte)  // `x1` + `$1`; `$1` + `$2` is fine
    }

    private mutating func appendByte(_ byte: UInt8) {
        guard output.count < maximumLength else {
            truncated = true
            return
        }
        output.append(byte)
    }

    private mutating func append(_ token: SQLToken) {
        let room = maximumLength - output.count
        guard room > 0 else {
            truncated = true
            return
        }
        let end = min(token.end, token.start + room)
        output.append(contentsOf: UnsafeBufferPointer(rebasing: lexer.bytes[token.start..<end]))
        if end < token.end { truncated = true }
    }

    private mutating func append(_ text: StaticString) {
        for index in 0..<text.utf8CodeUnitCount { appendByte(text.utf8Start[index]) }
    }

    private mutating func appendMarker() {
        // Never end in the middle of a UTF-8 sequence: find the last lead byte and drop its
        // sequence if the cut left it incomplete.
        var leadIndex = output.count - 1
        while leadIndex > 0, output[leadIndex] & 0xC0 == 0x80 { leadIndex -= 1 }
        if leadIndex >= 0, output[leadIndex] >= 0xC0 {
            let lead = output[leadIndex]
            let expected = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            if output.count - leadIndex < expected { output.removeSubrange(leadIndex...) }
        }
        output.append(contentsOf: SQLFingerprint.truncationMarker.utf8)
    }
}
