/// A byte scan that tells whether a statement could use session state transaction pooling cannot
/// carry over (LISTEN, a session-level advisory lock, a WITH HOLD cursor), so that only the few
/// statements that mention one pay for a full classification on the hot path.
///
/// It may answer yes for a statement that only names such a word (in a string, an identifier, a
/// comment): the classifier decides then. It never answers no for a statement that uses one.
public enum SessionStateMentions {
    private static let needles: [[UInt8]] = [Array("listen".utf8), Array("advisory".utf8), Array("hold".utf8)]

    /// Whether `bytes` contain `listen`, `advisory` or `hold` in any letter case.
    public static func mayMention<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        if let answer = bytes.withContiguousStorageIfAvailable({ scan($0) }) { return answer }
        return scan(Array(bytes))
    }

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            // ASCII letters compare case-insensitively once bit 0x20 is set; no other byte
            // becomes one of the needles' lower-case letters that way.
            let first = bytes[index] | 0x20
            if first == UInt8(ascii: "l") || first == UInt8(ascii: "a") || first == UInt8(ascii: "h") {
                for needle in needles where needle[0] == first && matches(needle, in: bytes, at: index) {
                    return true
                }
            }
            index += 1
        }
        return false
    }

    private static func scan(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { scan($0) }
    }

    private static func matches(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard start + needle.count <= bytes.count else { return false }
        for offset in 1..<needle.count where bytes[start + offset] | 0x20 != needle[offset] {
            return false
        }
        return true
    }
}
