/// A lexer for PostgreSQL's SQL over UTF-8 bytes, with `standard_conforming_strings = on`
/// (PostgreSQL's default since 9.1): a backslash is an ordinary character in `'...'` and an
/// escape only in `E'...'`.
///
/// It never fails and never allocates: every byte of the input belongs to exactly one token,
/// and input that ends inside a string, comment or quoted identifier yields a last token that
/// runs to the end with `isTerminated == false`. The lexer borrows its bytes, so it must not
/// outlive the buffer it was made from; use `SQLLexer.withLexer(over:_:)`.
public struct SQLLexer {
    /// The text being lexed.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// Offset of the next byte to lex.
    public private(set) var position: Int

    /// Creates a lexer at the start of `bytes`.
    public init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.position = 0
    }

    /// Runs `body` with a lexer over the UTF-8 bytes of `text`, copying the text only when it
    /// is not stored contiguously (bridged strings).
    public static func withLexer<R>(over text: String, _ body: (inout SQLLexer) throws -> R) rethrows -> R {
        if let result = try text.utf8.withContiguousStorageIfAvailable({ buffer -> R in
            var lexer = SQLLexer(bytes: buffer)
            return try body(&lexer)
        }) {
            return result
        }
        var copy = text
        copy.makeContiguousUTF8()
        return try copy.utf8.withContiguousStorageIfAvailable { buffer -> R in
            var lexer = SQLLexer(bytes: buffer)
            return try body(&lexer)
        }!
    }

    /// The next token, or nil at the end of the input.
    public mutating func next() -> SQLToken? {
        guard position < bytes.count else { return nil }
        let start = position
        let byte = bytes[start]
        switch byte {
        case 0x20, 0x09, 0x0A, 0x0D, 0x0C, 0x0B:
            position += 1
            while position < bytes.count, Self.isWhitespace(bytes[position]) { position += 1 }
            return SQLToken(kind: .whitespace, start: start, end: position)
        case UInt8(ascii: "-") where peek(1) == UInt8(ascii: "-"):
            return lexLineComment(from: start)
        case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
            return lexBlockComment(from: start)
        case UInt8(ascii: "'"):
            return lexQuoted(from: start, bodyStart: start + 1, kind: .string, backslashEscapes: false)
        case UInt8(ascii: "\""):
            return lexQuoted(from: start, bodyStart: start + 1, kind: .quotedIdentifier, backslashEscapes: false)
        case UInt8(ascii: "$"):
            return lexDollar(from: start)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return lexNumber(from: start)
        case UInt8(ascii: ".") where Self.isDigit(peek(1)):
            return lexNumber(from: start)
        case UInt8(ascii: ":"):
            // `::` (cast) and `:=` are single tokens; a lone `:` is an array-slice colon.
            let next = peek(1)
            position += (next == UInt8(ascii: ":") || next == UInt8(ascii: "=")) ? 2 : 1
            return SQLToken(kind: .operator, start: start, end: position)
        case UInt8(ascii: "("): return single(.openParen)
        case UInt8(ascii: ")"): return single(.closeParen)
        case UInt8(ascii: "["): return single(.openBracket)
        case UInt8(ascii: "]"): return single(.closeBracket)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: "."): return single(.dot)
        case UInt8(ascii: ";"): return single(.semicolon)
        default:
            if Self.isOperatorCharacter(byte) { return lexOperator(from: start) }
            if Self.isIdentifierStart(byte) { return lexWord(from: start) }
            return single(.other)
        }
    }

    /// The next token that is not whitespace or a comment, or nil at the end of the input.
    public mutating func nextSignificant() -> SQLToken? {
        while let token = next() {
            if !token.kind.isTrivia { return token }
        }
        return nil
    }

    // MARK: - Token text helpers

    /// True when `token`'s bytes equal `word` compared ASCII case-insensitively; `word` must be
    /// lower case. Used for keywords and function names; quoted identifiers never match.
    public func matches(_ token: SQLToken, _ word: StaticString) -> Bool {
        guard token.kind == .identifier, token.length == word.utf8CodeUnitCount else { return false }
        return Self.equalsLowercased(bytes, from: token.start, word.utf8Start, count: token.length)
    }

    /// The token's bytes decoded as a String (identifier names, never literals).
    public func text(of token: SQLToken) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[token.start..<token.end]), as: UTF8.self)
    }

    /// The name an identifier token denotes, as PostgreSQL's scanner makes it: unquoted names
    /// fold ASCII letters to lower case, quoted identifiers lose their quotes and keep their
    /// case, and both are cut to 63 bytes (NAMEDATALEN - 1) at a character boundary.
    public func identifierName(of token: SQLToken) -> String? {
        var name: [UInt8] = []
        switch token.kind {
        case .identifier:
            name = bytes[token.start..<token.end].map(Self.lowercased)
        case .quotedIdentifier:
            guard token.isTerminated, bytes[token.start] == UInt8(ascii: "\""), token.length >= 2 else { return nil }
            var index = token.start + 1
            while index < token.end - 1 {
                name.append(bytes[index])
                // a doubled quote stands for one
                index += bytes[index] == UInt8(ascii: "\"") ? 2 : 1
            }
        default:
            return nil
        }
        if name.count > Self.maximumIdentifierLength {
            var cut = Self.maximumIdentifierLength
            while cut > 0, name[cut] & 0xC0 == 0x80 { cut -= 1 }  // do not split a character
            name.removeSubrange(cut...)
        }
        return String(decoding: name, as: UTF8.self)
    }

    /// PostgreSQL keeps the first NAMEDATALEN - 1 bytes of an identifier.
    static let maximumIdentifierLength = 63

    /// The byte range of the name an identifier or quoted identifier denotes (without quotes),
    /// or nil for other tokens.
    func nameRange(of token: SQLToken) -> Range<Int>? {
        switch token.kind {
        case .identifier:
            return token.start..<token.end
        case .quotedIdentifier where token.isTerminated && bytes[token.start] == UInt8(ascii: "\""):
            return (token.start + 1)..<(token.end - 1)
        default:
            return nil
        }
    }

    /// True when the name of an identifier or quoted identifier equals `word` (lower case),
    /// ASCII case-insensitively.
    func nameEquals(_ token: SQLToken, _ word: StaticString) -> Bool {
        guard let range = nameRange(of: token), range.count == word.utf8CodeUnitCount else { return false }
        return Self.equalsLowercased(bytes, from: range.lowerBound, word.utf8Start, count: range.count)
    }

    /// True when the name of an identifier or quoted identifier starts with `prefix` (lower case).
    func nameHasPrefix(_ token: SQLToken, _ prefix: StaticString) -> Bool {
        guard let range = nameRange(of: token), range.count >= prefix.utf8CodeUnitCount else { return false }
        return Self.equalsLowercased(bytes, from: range.lowerBound, prefix.utf8Start, count: prefix.utf8CodeUnitCount)
    }

    static func equalsLowercased(
        _ bytes: UnsafeBufferPointer<UInt8>, from offset: Int, _ word: UnsafePointer<UInt8>, count: Int
    ) -> Bool {
        for index in 0..<count where lowercased(bytes[offset + index]) != word[index] {
            return false
        }
        return true
    }

    // MARK: - Character classes

    static func lowercased(_ byte: UInt8) -> UInt8 {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C || byte == 0x0B
    }

    static func isDigit(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    static func isIdentifierContinuation(_ byte: UInt8) -> Bool {
        isIdentifierStart(byte) || isDigit(byte) || byte == UInt8(ascii: "$")
    }

    /// PostgreSQL's operator characters: `~ ! @ # ^ & | ` ? + - * / % < > =`.
    static func isOperatorCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "@"), UInt8(ascii: "#"), UInt8(ascii: "^"),
             UInt8(ascii: "&"), UInt8(ascii: "|"), UInt8(ascii: "`"), UInt8(ascii: "?"), UInt8(ascii: "+"),
             UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "/"), UInt8(ascii: "%"), UInt8(ascii: "<"),
             UInt8(ascii: ">"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    // MARK: - Token rules

    private func peek(_ offset: Int) -> UInt8? {
        let index = position + offset
        return index < bytes.count ? bytes[index] : nil
    }

    private mutating func single(_ kind: SQLTokenKind) -> SQLToken {
        position += 1
        return SQLToken(kind: kind, start: position - 1, end: position)
    }

    private mutating func lexLineComment(from start: Int) -> SQLToken {
        position = start + 2
        while position < bytes.count, bytes[position] != 0x0A, bytes[position] != 0x0D { position += 1 }
        return SQLToken(kind: .lineComment, start: start, end: position)
    }

    /// Block comments nest in PostgreSQL: `/* a /* b */ still comment */`.
    private mutating func lexBlockComment(from start: Int) -> SQLToken {
        position = start + 2
        var depth = 1
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "*"), peek(1) == UInt8(ascii: "/") {
                position += 2
                depth -= 1
                if depth == 0 { return SQLToken(kind: .blockComment, start: start, end: position) }
            } else if byte == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") {
                position += 2
                depth += 1
            } else {
                position += 1
            }
        }
        return SQLToken(kind: .blockComment, start: start, end: position, isTerminated: false)
    }

    /// A quoted token whose closing quote equals the byte at `bodyStart - 1`; a doubled quote
    /// is an escaped quote, and with `backslashEscapes` a backslash escapes the next byte.
    private mutating func lexQuoted(
        from start: Int, bodyStart: Int, kind: SQLTokenKind, backslashEscapes: Bool
    ) -> SQLToken {
        let quote = bytes[bodyStart - 1]
        position = bodyStart
        while position < bytes.count {
            let byte = bytes[position]
            if backslashEscapes, byte == UInt8(ascii: "\\") {
                position += 2
            } else if byte == quote {
                if peek(1) == quote {
                    position += 2
                } else {
                    position += 1
                    return SQLToken(kind: kind, start: start, end: position)
                }
            } else {
                position += 1
            }
        }
        position = bytes.count
        return SQLToken(kind: kind, start: start, end: position, isTerminated: false)
    }

    /// `$1` is a parameter; `$$` and `$tag$` open a dollar-quoted string that ends at the same
    /// delimiter; any other `$` is a stray character.
    private mutating func lexDollar(from start: Int) -> SQLToken {
        if Self.isDigit(peek(1)) {
            position = start + 1
            while position < bytes.count, Self.isDigit(bytes[position]) { position += 1 }
            return SQLToken(kind: .parameter, start: start, end: position)
        }
        var tagEnd = start + 1
        if tagEnd < bytes.count, Self.isIdentifierStart(bytes[tagEnd]) {
            tagEnd += 1
            while tagEnd < bytes.count, bytes[tagEnd] != UInt8(ascii: "$"),
                  Self.isIdentifierContinuation(bytes[tagEnd]) {
                tagEnd += 1
            }
        }
        guard tagEnd < bytes.count, bytes[tagEnd] == UInt8(ascii: "$") else { return single(.other) }
        let delimiterLength = tagEnd + 1 - start
        var search = tagEnd + 1
        while search + delimiterLength <= bytes.count {
            if bytes[search] == UInt8(ascii: "$"), delimiterMatches(at: search, delimiterStart: start, length: delimiterLength) {
                position = search + delimiterLength
                return SQLToken(kind: .dollarString, start: start, end: position)
            }
            search += 1
        }
        position = bytes.count
        return SQLToken(kind: .dollarString, start: start, end: position, isTerminated: false)
    }

    private func delimiterMatches(at offset: Int, delimiterStart: Int, length: Int) -> Bool {
        for index in 0..<length where bytes[offset + index] != bytes[delimiterStart + index] {
            return false
        }
        return true
    }

    private mutating func lexNumber(from start: Int) -> SQLToken {
        position = start
        if bytes[start] == UInt8(ascii: "0"), let radix = peek(1),
           "xXoObB".utf8.contains(radix) {
            position = start + 2
            while position < bytes.count, Self.isHexDigitOrUnderscore(bytes[position]) { position += 1 }
            return SQLToken(kind: .number, start: start, end: position)
        }
        consumeDigits()
        if position < bytes.count, bytes[position] == UInt8(ascii: "."), peek(1) != UInt8(ascii: ".") {
            position += 1
            consumeDigits()
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            var exponent = position + 1
            if exponent < bytes.count, bytes[exponent] == UInt8(ascii: "+") || bytes[exponent] == UInt8(ascii: "-") {
                exponent += 1
            }
            if exponent < bytes.count, Self.isDigit(bytes[exponent]) {
                position = exponent
                consumeDigits()
            }
        }
        return SQLToken(kind: .number, start: start, end: position)
    }

    private mutating func consumeDigits() {
        while position < bytes.count, Self.isDigit(bytes[position]) || bytes[position] == UInt8(ascii: "_") {
            position += 1
        }
    }

    private static func isHexDigitOrUnderscore(_ byte: UInt8) -> Bool {
        isDigit(byte) || byte == UInt8(ascii: "_")
            || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }

    /// An operator is a run of operator characters that stops before `--` or `/*`; a multi-
    /// character operator may not end in `+` or `-` unless it contains one of `~!@#%^&|`?`,
    /// so `=-1` lexes as `=` then `-1`, as in PostgreSQL's scanner.
    private mutating func lexOperator(from start: Int) -> SQLToken {
        position = start + 1
        while position < bytes.count, Self.isOperatorCharacter(bytes[position]) {
            let byte = bytes[position]
            if (byte == UInt8(ascii: "-") && peek(1) == UInt8(ascii: "-"))
                || (byte == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*")) {
                break
            }
            position += 1
        }
        var end = position
        if end - start > 1 {
            let hasSpecial = (start..<end).contains { index in "~!@#%^&|`?".utf8.contains(bytes[index]) }
            if !hasSpecial {
                while end - start > 1, bytes[end - 1] == UInt8(ascii: "+") || bytes[end - 1] == UInt8(ascii: "-") {
                    end -= 1
                }
            }
        }
        position = end
        return SQLToken(kind: .operator, start: start, end: end)
    }

    /// A keyword or identifier, or a prefixed string: `E'..'` (backslash escapes), `N'..'`,
    /// `B'..'`, `X'..'`, `U&'..'`, and the quoted identifier `U&".."`.
    private mutating func lexWord(from start: Int) -> SQLToken {
        let first = Self.lowercased(bytes[start])
        let second = peek(1)
        if second == UInt8(ascii: "'") {
            switch first {
            case UInt8(ascii: "e"):
                return lexQuoted(from: start, bodyStart: start + 2, kind: .string, backslashEscapes: true)
            case UInt8(ascii: "n"), UInt8(ascii: "b"), UInt8(ascii: "x"):
                return lexQuoted(from: start, bodyStart: start + 2, kind: .string, backslashEscapes: false)
            default:
                break
            }
        }
        if first == UInt8(ascii: "u"), second == UInt8(ascii: "&"), let third = peek(2) {
            if third == UInt8(ascii: "'") {
                return lexQuoted(from: start, bodyStart: start + 3, kind: .string, backslashEscapes: false)
            }
            if third == UInt8(ascii: "\"") {
                return lexQuoted(from: start, bodyStart: start + 3, kind: .quotedIdentifier, backslashEscapes: false)
            }
        }
        position = start + 1
        while position < bytes.count, Self.isIdentifierContinuation(bytes[position]) { position += 1 }
        return SQLToken(kind: .identifier, start: start, end: position)
    }
}
