/// A byte scan that tells whether a statement could use session state transaction pooling cannot
/// carry over (LISTEN, a session-level advisory lock, a WITH HOLD cursor), so that only the few
/// statements that mention one pay for a full classification on the hot path.
///
/// It may answer yes for a statement that only names such a word (in a string, an identifier, a
/// comment): the classifier decides then. It never answers no for a statement that uses one.
public enum SessionStateMentions {
    /// Whether `bytes` contain `listen`, `advisory` or `hold` in any letter case.
    public static func mayMention(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            // ASCII letters compare case-insensitively once bit 0x20 is set; no other byte
            // becomes one of the needles' lower-case letters that way.
            switch bytes[index] | 0x20 {
            case UInt8(ascii: "l"): if matches("listen", bytes, at: index) { return true }
            case UInt8(ascii: "a"): if matches("advisory", bytes, at: index) { return true }
            case UInt8(ascii: "h"): if matches("hold", bytes, at: index) { return true }
            default: break
            }
            index += 1
        }
        return false
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
