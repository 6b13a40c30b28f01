/// A byte scan that tells whether a statement could use session state transaction pooling cannot
/// carry over (LISTEN, a session-level advisory lock, a WITH HOLD cursor), so that only the few
/// statements that mention one pay for a full classification on the hot path.
///
/// It may answer yes for a statement that only names such a word (in a string, an identifier, a
/// comment): the classifier decides then. It never answers no for a statement that uses one.
public enum SessionStateMentions {
    /// Whether `bytes` contain `listen`, `advisory` or `hold` in any letter case.
    ///
    /// Runs on every Query in transaction pooling, so it looks at eight positions at a time
    /// for the needles' first two letters (`li`, `ad`, `ho`; single letters are in almost every
    /// statement); only a word where one of those pairs starts is checked byte by byte.
    public static func mayMention(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index + 9 <= count {
            let first = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) | lowerCaseBits
            let second = bytes.loadUnaligned(fromByteOffset: index + 1, as: UInt64.self) | lowerCaseBits
            let starts = zeroBytes(first ^ repeated("l")) & zeroBytes(second ^ repeated("i"))
                | zeroBytes(first ^ repeated("a")) & zeroBytes(second ^ repeated("d"))
                | zeroBytes(first ^ repeated("h")) & zeroBytes(second ^ repeated("o"))
            if starts != 0 {
                for position in index ..< index + 8 where mentionStarts(bytes, at: position) { return true }
            }
            index += 8
        }
        while index < count {
            if mentionStarts(bytes, at: index) { return true }
            index += 1
        }
        return false
    }

    /// The scan byte by byte, for tests to compare the word-at-a-time scan against.
    static func mayMentionByteByByte(_ bytes: UnsafeRawBufferPointer) -> Bool {
        (0 ..< bytes.count).contains { mentionStarts(bytes, at: $0) }
    }

    // ASCII letters compare case-insensitively once bit 0x20 is set; no other byte becomes
    // one of the needles' lower-case letters that way.
    private static let lowerCaseBits: UInt64 = 0x2020_2020_2020_2020

    private static func repeated(_ letter: Unicode.Scalar) -> UInt64 {
        UInt64(UInt8(ascii: letter)) &* 0x0101_0101_0101_0101
    }

    /// 0x80 in each byte of `word` that is zero, 0 in every other byte (exact per byte, unlike
    /// the shorter carry trick, so two such masks can be combined position by position).
    private static func zeroBytes(_ word: UInt64) -> UInt64 {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return ~(((word & low7) &+ low7) | word | low7)
    }

    private static func mentionStarts(_ bytes: UnsafeRawBufferPointer, at index: Int) -> Bool {
        switch bytes[index] | 0x20 {
        case UInt8(ascii: "l"): return matches("listen", bytes, at: index)
        case UInt8(ascii: "a"): return matches("advisory", bytes, at: index)
        case UInt8(ascii: "h"): return matches("hold", bytes, at: index)
        default: return false
        }
    }

    /// Convenience for byte arrays and other collections (tests, non-hot paths).
    public static func mayMention<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        Array(bytes).withUnsafeBytes { mayMention($0) }
    }

    private static func matches(_ needle: StaticString, _ bytes: UnsafeRawBufferPointer, at start: Int) -> Bool {
        let length = needle.utf8CodeUnitCount
        guard start + length <= bytes.count else { return false }
        let letters = needle.utf8Start
        for offset in 1 ..< length where bytes[start + offset] | 0x20 != letters[offset] {
            return false
        }
        return true
    }
}
