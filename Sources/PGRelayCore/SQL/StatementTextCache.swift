/// A bounded map from statement text to a value computed from it, evicting with the CLOCK
/// (second chance) policy: an approximation of LRU that needs no list updates on a hit.
///
/// Not thread-safe: keep one per event loop. Texts longer than `maximumKeyLength` bytes are
/// computed every time and never stored, so memory stays below roughly
/// `capacity × (maximumKeyLength + value size)`.
///
/// Texts that carry literals (a number, a quote or a dollar quote) are computed but not stored: with
/// literals inlined nearly every text is new, and storing each one would evict a useful entry and
/// cost more than computing the value (the texts that repeat, like `BEGIN` or `COMMIT`, carry none).
public struct StatementTextCache<Value> {
    private struct Slot {
        var key: String
        var value: Value
        var referenced: Bool
    }

    /// Most entries kept.
    public let capacity: Int
    /// Longest text (in UTF-8 bytes) that is cached.
    public let maximumKeyLength: Int
    private var slots: [Slot] = []
    private var slotIndex: [String: Int] = [:]
    private var hand = 0

    /// Creates an empty cache. A capacity below 1 is raised to 1.
    public init(capacity: Int, maximumKeyLength: Int = 8192) {
        self.capacity = max(1, capacity)
        self.maximumKeyLength = max(0, maximumKeyLength)
    }

    /// Number of entries held.
    public var count: Int { slots.count }

    /// The cached value for `key`, or `compute(key)`, stored unless the key is too long.
    public mutating func value(for key: String, orCompute compute: (String) -> Value) -> Value {
        if let index = slotIndex[key] {
            slots[index].referenced = true
            return slots[index].value
        }
        let value = compute(key)
        guard key.utf8.count <= maximumKeyLength, Self.isWorthStoring(key.utf8) else { return value }
        if slots.count < capacity {
            slotIndex[key] = slots.count
            slots.append(Slot(key: key, value: value, referenced: false))
        } else {
            let victim = nextVictim()
            slotIndex[slots[victim].key] = nil
            slots[victim] = Slot(key: key, value: value, referenced: false)
            slotIndex[key] = victim
        }
        return value
    }

    /// Whether a text is likely to come again verbatim: it has no literal. Parameters (`$1`) and
    /// digits inside names (`t1`, `a_2`) are not literals: the extended protocol's statement
    /// texts repeat exactly and must be stored. A quote, a dollar quote (`$$`, `$tag$`) or a
    /// number that starts a token count as literals. A false "literal" only costs a computation,
    /// so the scan stays byte-simple.
    static func isWorthStoring<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        var state = WorthStoringScan.text
        var previous: UInt8 = 0x20
        for byte in bytes {
            // Fast path: letters, spaces and most punctuation lie outside '$' (0x24) ... '9' (0x39).
            if state == .text, byte > UInt8(ascii: "9") || byte < UInt8(ascii: "$") {
                previous = byte
                continue
            }
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            switch state {
            case .dollar:
                // `$` at the start of a token: `$1` is a parameter, anything else (`$$`, `$tag$`)
                // opens a dollar-quoted string.
                guard isDigit else { return false }
                state = .parameter
                previous = byte
                continue
            case .parameter:
                if isDigit { continue }
                state = .text
            case .text:
                break
            }
            if byte == UInt8(ascii: "'") { return false }
            if !isNameByte(previous) {
                if isDigit { return false }
                if byte == UInt8(ascii: "$") { state = .dollar }
            }
            previous = byte
        }
        return state != .dollar
    }

    private enum WorthStoringScan { case text, dollar, parameter }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "$"), 0x80...0xFF:
            return true
        default:
            return false
        }
    }

    /// The cached value for `key`, without computing or counting it as a use.
    public func peek(_ key: String) -> Value? {
        slotIndex[key].map { slots[$0].value }
    }

    /// Drops every entry (after a reload changed what values mean).
    public mutating func removeAll() {
        slots.removeAll(keepingCapacity: true)
        slotIndex.removeAll(keepingCapacity: true)
        hand = 0
    }

    /// Sweeps the clock hand, clearing reference bits, to the first unreferenced slot.
    private mutating func nextVictim() -> Int {
        while true {
            if hand >= slots.count { hand = 0 }
            if slots[hand].referenced {
                slots[hand].referenced = false
                hand += 1
            } else {
                let victim = hand
                hand += 1
                return victim
            }
        }
    }
}

/// Classifications cached per statement text; one per event loop (not thread-safe).
public struct ClassificationCache {
    /// The classifier whose results are cached.
    public let classifier: SQLClassifier
    private var storage: StatementTextCache<SQLClassification>

    /// Creates an empty cache of at most `capacity` texts, each at most `maximumKeyLength` bytes.
    public init(classifier: SQLClassifier = SQLClassifier(), capacity: Int = 10_000, maximumKeyLength: Int = 8192) {
        self.classifier = classifier
        self.storage = StatementTextCache(capacity: capacity, maximumKeyLength: maximumKeyLength)
    }

    /// Number of texts held.
    public var count: Int { storage.count }

    /// The last text classified, whether stored or not: routing asks about one Query several
    /// times (may it go to the held server, are all waiting statements reads, bookkeeping), and
    /// a text with literals is never stored.
    private var last: (sql: String, classification: SQLClassification)?

    /// The classification of `sql`, from the cache when possible.
    public mutating func classify(_ sql: String) -> SQLClassification {
        if let last, last.sql == sql { return last.classification }
        let classifier = self.classifier
        let classification = storage.value(for: sql) { classifier.classify($0) }
        last = (sql, classification)
        return classification
    }
}

/// Fingerprints cached per shape (`SQLShape`): plain texts by their byte hash (literals or not),
/// other texts with literals by their lexer shape; other texts per statement text. One per event
/// loop (not thread-safe).
public struct FingerprintCache {
    private var storage: StatementTextCache<String>
    private var byShape: [UInt64: ShapeEntry] = [:]

    private struct ShapeEntry {
        var fingerprint: String
        /// `SessionStateMentions.mayMention` of the texts of a plain shape (nil for a lexer
        /// shape): their bytes differ only inside digit runs, where no letter is, so one scan
        /// answers for all of them.
        var mayMentionSessionState: Bool?
    }
    /// Most shapes kept; the table is emptied when full (a rare event: shapes repeat). As many
    /// as texts by default, since most statements are plain and kept here.
    public let shapeCapacity: Int

    /// Creates an empty cache of at most `capacity` texts, each at most `maximumKeyLength` bytes,
    /// and at most `shapeCapacity` shapes.
    public init(capacity: Int = 10_000, maximumKeyLength: Int = 8192, shapeCapacity: Int = 10_000) {
        self.storage = StatementTextCache(capacity: capacity, maximumKeyLength: maximumKeyLength)
        self.shapeCapacity = max(1, shapeCapacity)
    }

    /// Number of texts held.
    public var count: Int { storage.count }

    /// Number of shapes held.
    public var shapeCount: Int { byShape.count }

    /// `SQLFingerprint.normalize(sql)`, from the cache when possible.
    public mutating func fingerprint(_ sql: String) -> String {
        storage.value(for: sql) { SQLFingerprint.normalize($0) }
    }

    /// The fingerprint of statement text given as UTF-8 bytes. Plain texts and texts with
    /// literals are found by shape and normalized straight from the bytes, without making a
    /// String of them; only other literal-free texts are kept by text.
    public mutating func fingerprint(utf8 bytes: UnsafeRawBufferPointer) -> String {
        // Plain text (the usual ORM or pgbench statement): one byte scan instead of lexing, and
        // looked up by that hash, with or without numbers (no String made of the text).
        if let plain = SQLShape.plainHash(utf8: bytes) {
            return fingerprint(utf8: bytes, shape: plain.hash)
        }
        return fingerprint(notPlainUTF8: bytes)
    }

    /// `fingerprint(utf8:)` of a text `SQLShape.plainHash` has said no to.
    private mutating func fingerprint(notPlainUTF8 bytes: UnsafeRawBufferPointer) -> String {
        if !StatementTextCache<String>.isWorthStoring(bytes) {
            return fingerprint(utf8: bytes, shape: SQLShape.hash(utf8: bytes))
        }
        return fingerprint(String(decoding: bytes, as: UTF8.self))
    }

    /// The fingerprint of statement text given as UTF-8 bytes (as `fingerprint(utf8:)`), and
    /// whether it may mention session state (`SessionStateMentions.mayMention`): for a plain
    /// text that scan is made once per shape and kept with its fingerprint, so that the
    /// per-Query path in transaction pooling makes one pass over the text instead of two.
    public mutating func fingerprintAndMentions(utf8 bytes: UnsafeRawBufferPointer) -> (fingerprint: String, mayMentionSessionState: Bool) {
        if let plain = SQLShape.plainHash(utf8: bytes) {
            if let known = byShape[plain.hash], let mentions = known.mayMentionSessionState {
                return (known.fingerprint, mentions)
            }
            let mentions = SessionStateMentions.mayMention(bytes)
            return (fingerprint(utf8: bytes, shape: plain.hash, mayMentionSessionState: mentions), mentions)
        }
        return (fingerprint(notPlainUTF8: bytes), SessionStateMentions.mayMention(bytes))
    }

    private mutating func fingerprint(utf8 bytes: UnsafeRawBufferPointer, shape: UInt64, mayMentionSessionState: Bool? = nil) -> String {
        if let known = byShape[shape] {
            if known.mayMentionSessionState == nil, let mayMentionSessionState {
                byShape[shape]?.mayMentionSessionState = mayMentionSessionState
            }
            return known.fingerprint
        }
        let fingerprint = SQLFingerprint.normalize(utf8: bytes)
        if bytes.count <= storage.maximumKeyLength {
            if byShape.count >= shapeCapacity { byShape.removeAll(keepingCapacity: true) }
            byShape[shape] = ShapeEntry(fingerprint: fingerprint, mayMentionSessionState: mayMentionSessionState)
        }
        return fingerprint
    }
}
