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
                // Letters, whitespace and punctuation (most of a statement) are hashed as they
                // are, a run at a time: found and hashed eight bytes at a time.
                let runEnd = plainRunEnd(bytes, from: index, classes: classes)
                if runEnd > index {
                    hash = hashRun(bytes, from: index, to: runEnd, into: hash)
                    previous = classes[Int(bytes[runEnd - 1])]
                    index = runEnd
                    if index == count { break }
                }
                let byte = bytes[index]
                let kind = classes[Int(byte)]
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

    /// Where the run of letters, whitespace and punctuation that starts at `start` ends. Two
    /// texts of the same shape have the same bytes up to their next digit run, so their runs
    /// end at the same places and are hashed alike.
    @inline(__always)
    private static func plainRunEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, classes: UnsafeBufferPointer<UInt8>) -> Int {
        // The table's second half: 0 for a byte of the run, 1 for any other.
        @inline(__always) func breaks(_ offset: Int) -> UInt8 { classes[256 &+ Int(bytes[offset])] }
        var end = start
        let count = bytes.count
        while end + 8 <= count {
            if breaks(end) | breaks(end + 1) | breaks(end + 2) | breaks(end + 3)
                | breaks(end + 4) | breaks(end + 5) | breaks(end + 6) | breaks(end + 7) != 0 { break }
            end += 8
        }
        while end < count, breaks(end) == 0 { end += 1 }
        return end
    }

    /// Mixes a run's bytes into `hash`: whole eight-byte words, then the rest as one word (no
    /// byte of a run is zero, so the rest's length is part of its value).
    @inline(__always)
    private static func hashRun(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, into hash: UInt64) -> UInt64 {
        @inline(__always) func mix(_ hash: UInt64, _ word: UInt64) -> UInt64 {
            let product = (hash ^ word) &* wordMultiplier
            return product ^ (product &>> 29)
        }
        var hash = hash
        var index = start
        while index + 8 <= end {
            hash = mix(hash, bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            index += 8
        }
        if index < end {
            var rest: UInt64 = 0
            while index < end {
                rest = rest << 8 | UInt64(bytes[index])
                index += 1
            }
            hash = mix(hash, rest)
        }
        return hash
    }

    /// An odd multiplier with its bits spread over the word (2^64 divided by the golden ratio):
    /// FNV's sparse prime would leave a word's high bytes barely mixed.
    private static let wordMultiplier: UInt64 = 0x9E37_79B9_7F4A_7C15

    private static let plainSeed: UInt64 = 0x84222325_cbf29ce4 ^ UInt64.random(in: 0 ... UInt64.max)

    /// Byte classes; letter, space and punctuation must stay 1...3 (the fast path's one compare).
    private enum PlainClass: UInt8 {
        case other = 0, letter = 1, space = 2, punctuation = 3, digit, dot, dollar
        /// Not a byte class: what `previous` is after a digit run that starts a token.
        case number
    }

    /// The class of each byte, then (from 256) whether it ends a run of letters, whitespace
    /// and punctuation (1) or not (0): one table for the scan's two lookups.
    private static let plainClasses: [UInt8] = {
        let classes = (0 ... 255).map { plainClass(of: UInt8($0)) }
        return classes + classes.map { $0 &- 1 < 3 ? 0 : 1 }
    }()

    private static func plainClass(of byte: UInt8) -> UInt8 {
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
