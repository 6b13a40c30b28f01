/// A hash of a statement's shape: its tokens with the contents of its constants (numbers,
/// strings, dollar-quoted strings) left out. Two texts of the same shape differ only inside
/// constants, which `SQLFingerprint.normalize` replaces whole, so they have the same
/// fingerprint: a fingerprint found by shape needs no normalization (one lexing pass and a
/// hash instead of building the fingerprint again for every literal value).
///
/// What the normalizer looks at besides token kinds is kept in the hash: every byte of the
/// other tokens (whitespace included; comments count only as tokens), the prefix of a string (`E`, `U&`, `B`,
/// ...) and whether a token is terminated.
///
/// The hash is 64-bit FNV-1a from a per-process random seed: cheap per byte, which matters on
/// the hot path. It only labels statistics (a collision would count a statement under another
/// statement's fingerprint, never expose a literal nor change a route).
public enum SQLShape {
    private static let seed: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64.random(in: 0 ... UInt64.max)
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// The shape hash of UTF-8 statement text.
    public static func hash(utf8 bytes: UnsafeRawBufferPointer) -> UInt64 {
        bytes.withMemoryRebound(to: UInt8.self) { text in
            var lexer = SQLLexer(bytes: text)
            var hash = seed ^ UInt64(text.count == 0 ? 1 : 0)
            while let token = lexer.next() {
                // Kind, termination and a boundary mark in one step: the boundaries of tokens
                // are part of the shape, not only their bytes.
                hash = (hash ^ (UInt64(token.kind.rawValue) << 1 | (token.isTerminated ? 1 : 0) | 0x100)) &* prime
                switch token.kind {
                case .number, .dollarString:
                    continue
                case .lineComment, .blockComment:
                    // The normalizer drops comments whole, so their text is no part of the shape:
                    // statements tagged with a per-request comment (sqlcommenter's traceparent)
                    // still find their fingerprint by shape.
                    continue
                case .string:
                    var index = token.start
                    while index < token.end, text[index] != UInt8(ascii: "'") {
                        hash = (hash ^ UInt64(text[index])) &* prime
                        index += 1
                    }
                default:
                    for index in token.start ..< token.end {
                        hash = (hash ^ UInt64(text[index])) &* prime
                    }
                }
            }
            return hash
        }
    }

    // MARK: Plain texts without the lexer

    /// A cheaper shape hash for the common plain text (`SELECT abalance FROM pgbench_accounts
    /// WHERE aid = 4711;`), or nil when the text needs the lexer. A plain text has only ASCII
    /// letters, digits, `_`, whitespace, the punctuation `( ) , ; = < > * + .` and parameters
    /// `$1` — no quote, comment, other dollar sign, minus or slash — and its numbers are bare
    /// digit runs that start a
    /// token (no `1.5`, `1e5`, `0x1F`, `1_000`). There every digit run that starts a token is a
    /// number token whatever its digits, and every other byte is the same in two texts of the
    /// same hash, so they lex alike and have the same fingerprint. This hash has its own seed:
    /// it never meets a `hash(utf8:)` value by design, only by a 64-bit accident.
    /// `hasLiterals` is false when the text has no number at all.
    public static func plainHash(utf8 bytes: UnsafeRawBufferPointer) -> (hash: UInt64, hasLiterals: Bool)? {
        plainClasses.withUnsafeBufferPointer { classes in
            let letter = PlainClass.letter.rawValue, digit = PlainClass.digit.rawValue
            let dot = PlainClass.dot.rawValue, other = PlainClass.other.rawValue
            var hash = plainSeed
            var hasLiterals = false
            var previous = PlainClass.space.rawValue
            var index = 0
            let count = bytes.count
            while index < count {
                let byte = bytes[index]
                let kind = classes[Int(byte)]
                // Letters, whitespace and punctuation (most of a statement) are hashed as they
                // are: one compare for the three (their classes are 1...3; `other`, 0, wraps).
                if kind &- 1 < 3 {
                    hash = (hash ^ UInt64(byte)) &* prime
                    previous = kind
                    index += 1
                    continue
                }
                if kind == PlainClass.dollar.rawValue {
                    // `$1`, a parameter: hashed as it is (its digits are no literal). After a
                    // letter or digit `$` continues an identifier, and without digits it opens a
                    // dollar quote: both are left to the lexer, as is `$1a`.
                    guard previous != letter, previous != digit, previous != PlainClass.number.rawValue else { return nil }
                    var end = index + 1
                    while end < count, classes[Int(bytes[end])] == digit { end += 1 }
                    guard end > index + 1 else { return nil }
                    if end < count {
                        let next = classes[Int(bytes[end])]
                        if next == letter || next == dot || bytes[end] == UInt8(ascii: "$") { return nil }
                    }
                    for position in index ..< end { hash = (hash ^ UInt64(bytes[position])) &* prime }
                    index = end
                    previous = PlainClass.number.rawValue
                    continue
                }
                if kind == other { return nil }
                if kind == digit, previous != letter, previous != digit {
                    // A digit run that starts a token: a number whatever its digits.
                    if previous == dot { return nil }
                    var end = index + 1
                    while end < count, classes[Int(bytes[end])] == digit { end += 1 }
                    // A letter, `_` or dot right after the digits makes another kind of number.
                    if end < count {
                        let next = classes[Int(bytes[end])]
                        if next == letter || next == dot { return nil }
                    }
                    hash = (hash ^ 0x100) &* prime
                    hasLiterals = true
                    index = end
                    previous = PlainClass.number.rawValue
                    continue
                }
                // `.5` is a number the lexer reads with its dot (`1.5` ends above).
                if kind == dot, index + 1 < count, classes[Int(bytes[index + 1])] == digit { return nil }
                hash = (hash ^ UInt64(byte)) &* prime
                previous = kind
                index += 1
            }
            return (hash, hasLiterals)
        }
    }

    private static let plainSeed: UInt64 = 0x84222325_cbf29ce4 ^ UInt64.random(in: 0 ... UInt64.max)

    /// Byte classes; letter, space and punctuation must stay 1...3 (the fast path's one compare).
    private enum PlainClass: UInt8 {
        case other = 0, letter = 1, space = 2, punctuation = 3, digit, dot, dollar
        /// Not a byte class: what `previous` is after a digit run that starts a token.
        case number
    }

    private static let plainClasses: [UInt8] = (0 ... 255).map { value -> UInt8 in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "a") ... UInt8(ascii: "z"), UInt8(ascii: "A") ... UInt8(ascii: "Z"), UInt8(ascii: "_"):
            return PlainClass.letter.rawValue
        case UInt8(ascii: "0") ... UInt8(ascii: "9"):
            return PlainClass.digit.rawValue
        case 0x20, 0x09, 0x0A, 0x0D:
            return PlainClass.space.rawValue
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
             UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "*"), UInt8(ascii: "+"):
            return PlainClass.punctuation.rawValue
        case UInt8(ascii: "."):
            return PlainClass.dot.rawValue
        case UInt8(ascii: "$"):
            return PlainClass.dollar.rawValue
        default:
            return PlainClass.other.rawValue
        }
    }
}
