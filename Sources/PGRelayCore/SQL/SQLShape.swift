/// A hash of a statement's shape: its tokens with the contents of its constants (numbers,
/// strings, dollar-quoted strings) left out. Two texts of the same shape differ only inside
/// constants, which `SQLFingerprint.normalize` replaces whole, so they have the same
/// fingerprint: a fingerprint found by shape needs no normalization (one lexing pass and a
/// hash instead of building the fingerprint again for every literal value).
///
/// What the normalizer looks at besides token kinds is kept in the hash: every byte of the
/// other tokens (whitespace and comments included), the prefix of a string (`E`, `U&`, `B`,
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
}
