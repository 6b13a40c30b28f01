/// The kind of a lexical token of PostgreSQL's SQL dialect, as far as routing and
/// fingerprinting need to tell them apart.
public enum SQLTokenKind: UInt8, Sendable, Equatable {
    /// Spaces, tabs, newlines, carriage returns, form feeds and vertical tabs.
    case whitespace
    /// `-- ...` up to the end of the line.
    case lineComment
    /// `/* ... */`, nested comments included.
    case blockComment
    /// An unquoted identifier or keyword (`SELECT`, `my_table`, `nextval`).
    case identifier
    /// `"..."` or `U&"..."`, with `""` as the escaped quote.
    case quotedIdentifier
    /// `'...'`, `E'...'`, `N'...'`, `U&'...'`, `B'...'` or `X'...'`.
    case string
    /// `$$...$$` or `$tag$...$tag$`.
    case dollarString
    /// Integer, decimal, exponent and `0x`/`0o`/`0b` literals, underscores included.
    case number
    /// A positional parameter, `$1`.
    case parameter
    /// A run of operator characters (`=`, `<>`, `::`, `->>`, ...).
    case `operator`
    /// `(`
    case openParen
    /// `)`
    case closeParen
    /// `[`
    case openBracket
    /// `]`
    case closeBracket
    /// `,`
    case comma
    /// `.`
    case dot
    /// `;`, the statement separator.
    case semicolon
    /// Anything else, one byte at a time (a stray `\`, a control byte, ...).
    case other

    /// Whitespace and comments: tokens that separate but carry no meaning.
    public var isTrivia: Bool {
        self == .whitespace || self == .lineComment || self == .blockComment
    }

    /// Constants whose text must never leave the process unmasked.
    public var isLiteral: Bool {
        self == .string || self == .dollarString || self == .number
    }
}

/// One token: its kind and its byte range in the lexed UTF-8 text.
public struct SQLToken: Sendable, Equatable {
    /// What the token is.
    public var kind: SQLTokenKind
    /// Offset of the first byte.
    public var start: Int
    /// Offset one past the last byte.
    public var end: Int
    /// False when the input ended inside the token (an unterminated string, comment or
    /// quoted identifier), which the lexer then extends to the end of the input.
    public var isTerminated: Bool

    /// Creates a token covering `start..<end`.
    public init(kind: SQLTokenKind, start: Int, end: Int, isTerminated: Bool = true) {
        self.kind = kind
        self.start = start
        self.end = end
        self.isTerminated = isTerminated
    }

    /// Number of bytes the token spans.
    public var length: Int { end - start }
}
