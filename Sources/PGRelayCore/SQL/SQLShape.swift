/// A hash of a statement's shape: its tokens with the contents of its constants (numbers,
/// strings, dollar-quoted strings) left out. Two texts of the same shape differ only inside
/// constants, which `SQLFingerprint.normalize` replaces whole, so they have the same
/// fingerprint: a fingerprint found by shape needs no normalization (one lexing pass and a
/// hash instead of building the fingerprint again for every literal value).
///
/// What the normalizer looks at besides token kinds is kept in the hash: every byte of the
/// other tokens (whitespace and comments included), the prefix of a string (`E`, `U&`, `B`,
/// ...) and whether a token is terminated.
public enum SQLShape {
    /// The shape hash of UTF-8 statement text (per process: `Hasher` is seeded at start).
    public static func hash(utf8 bytes: UnsafeRawBufferPointer) -> Int {
        bytes.withMemoryRebound(to: UInt8.self) { text in
            var lexer = SQLLexer(bytes: text)
            var hasher = Hasher()
            hasher.combine(text.count == 0)
            while let token = lexer.next() {
                hasher.combine(token.kind.rawValue)
                hasher.combine(token.isTerminated)
                switch token.kind {
                case .number, .dollarString:
                    break
                case .string:
                    var prefixEnd = token.start
                    while prefixEnd < token.end, text[prefixEnd] != UInt8(ascii: "'") { prefixEnd += 1 }
                    hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(text)[token.start ..< prefixEnd]))
                default:
                    hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(text)[token.start ..< token.end]))
                }
                // Token boundaries are part of the shape, not only the bytes.
                hasher.combine(UInt8(0xFF))
            }
            return hasher.finalize()
        }
    }
}
