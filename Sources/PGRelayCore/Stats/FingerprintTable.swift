/// Per-fingerprint statistics in a bounded LRU table (one per shard), feeding `top_slow`.
///
/// Storage is structure-of-arrays with an intrusive doubly linked recency list over slot indices,
/// so recording a known fingerprint is a dictionary lookup plus a few array writes: no allocation.
/// When full, the least recently recorded fingerprint is evicted and its slot reused.
struct FingerprintTable {
    /// Longest fingerprint kept, in UTF-8 bytes; longer ones are cut (and marked) to bound memory.
    static let maxKeyBytes = 1024
    private static let none: Int32 = -1

    private(set) var capacity: Int
    private var slotByKey: [String: Int32] = [:]
    private(set) var keys: [String] = []
    private(set) var calls: [UInt64] = []
    private(set) var slow: [UInt64] = []
    private(set) var errors: [UInt64] = []
    private(set) var sumMicros: [UInt64] = []
    private(set) var maxMicros: [UInt64] = []
    /// `CompactLatencyHistogram.bucketCount` counts per slot, slot after slot.
    private(set) var buckets: [UInt32] = []
    private var newer: [Int32] = []
    private var older: [Int32] = []
    private var newest: Int32 = none
    private var oldest: Int32 = none

    init(capacity: Int) {
        self.capacity = Swift.max(0, capacity)
    }

    /// Number of fingerprints held.
    var count: Int { keys.count }

    /// Records one query under `fingerprint`.
    mutating func record(fingerprint: String, micros: UInt64, isSlow: Bool, isError: Bool) {
        guard capacity > 0 else { return }
        // Overlong keys allocate their cut copy on every record; normalized SQL rarely gets there.
        let key = Self.boundedKey(fingerprint)
        let slot: Int
        if newest != Self.none, keys[Int(newest)] == key {
            // The same statement again (a pooled workload repeats itself): no hashing of the text.
            slot = Int(newest)
        } else if let existing = slotByKey[key] {
            slot = Int(existing)
            moveToNewest(slot)
        } else {
            slot = insert(key)
        }
        calls[slot] &+= 1
        if isSlow { slow[slot] &+= 1 }
        if isError { errors[slot] &+= 1 }
        sumMicros[slot] &+= micros
        maxMicros[slot] = Swift.max(maxMicros[slot], micros)
        let bucket = CompactLatencyHistogram.bucketIndex(forMicros: micros)
        let base = slot * CompactLatencyHistogram.bucketCount
        buckets.withUnsafeMutableBufferPointer { all in
            let region = UnsafeMutableBufferPointer(rebasing: all[base ..< base + CompactLatencyHistogram.bucketCount])
            CompactLatencyHistogram.increment(region, at: bucket)
        }
    }

    /// The fingerprints from most to least recently recorded.
    var keysByRecency: [String] {
        var result: [String] = []
        result.reserveCapacity(keys.count)
        var cursor = newest
        while cursor != Self.none {
            result.append(keys[Int(cursor)])
            cursor = older[Int(cursor)]
        }
        return result
    }

    /// Calls `body` with the raw bucket counts of one slot.
    func withBuckets<Result>(atSlot slot: Int, _ body: (UnsafeBufferPointer<UInt32>) -> Result) -> Result {
        let base = slot * CompactLatencyHistogram.bucketCount
        return buckets.withUnsafeBufferPointer { all in
            body(UnsafeBufferPointer(rebasing: all[base ..< base + CompactLatencyHistogram.bucketCount]))
        }
    }

    /// Changes the capacity, evicting the least recently used entries when it shrinks.
    mutating func resize(capacity newCapacity: Int) {
        let target = Swift.max(0, newCapacity)
        if target < keys.count {
            let survivors = Array(keysByRecency.prefix(target))
            var rebuilt = FingerprintTable(capacity: target)
            for key in survivors.reversed() {
                guard let slot = slotByKey[key] else { continue }
                rebuilt.copyEntry(from: self, slot: Int(slot))
            }
            self = rebuilt
        } else {
            capacity = target
        }
    }

    /// Forgets every fingerprint.
    mutating func removeAll() {
        self = FingerprintTable(capacity: capacity)
    }

    // MARK: Internals

    private mutating func copyEntry(from source: FingerprintTable, slot: Int) {
        let target = insert(source.keys[slot])
        calls[target] = source.calls[slot]
        slow[target] = source.slow[slot]
        errors[target] = source.errors[slot]
        sumMicros[target] = source.sumMicros[slot]
        maxMicros[target] = source.maxMicros[slot]
        let width = CompactLatencyHistogram.bucketCount
        buckets.replaceSubrange(target * width ..< (target + 1) * width,
                                with: source.buckets[slot * width ..< (slot + 1) * width])
    }

    /// Puts a new key in a fresh or evicted slot, zeroed, as the newest entry.
    private mutating func insert(_ key: String) -> Int {
        let width = CompactLatencyHistogram.bucketCount
        let slot: Int
        if keys.count < capacity {
            slot = keys.count
            keys.append(key)
            calls.append(0); slow.append(0); errors.append(0); sumMicros.append(0); maxMicros.append(0)
            newer.append(Self.none); older.append(Self.none)
            buckets.append(contentsOf: repeatElement(0, count: width))
        } else {
            slot = Int(oldest)
            unlink(slot)
            slotByKey.removeValue(forKey: keys[slot])
            keys[slot] = key
            calls[slot] = 0; slow[slot] = 0; errors[slot] = 0; sumMicros[slot] = 0; maxMicros[slot] = 0
            buckets.withUnsafeMutableBufferPointer { all in
                for index in slot * width ..< (slot + 1) * width { all[index] = 0 }
            }
        }
        slotByKey[key] = Int32(slot)
        linkAsNewest(slot)
        return slot
    }

    private mutating func moveToNewest(_ slot: Int) {
        guard Int32(slot) != newest else { return }
        unlink(slot)
        linkAsNewest(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let before = newer[slot], after = older[slot]
        if before != Self.none { older[Int(before)] = after } else { newest = after }
        if after != Self.none { newer[Int(after)] = before } else { oldest = before }
        newer[slot] = Self.none
        older[slot] = Self.none
    }

    private mutating func linkAsNewest(_ slot: Int) {
        older[slot] = newest
        newer[slot] = Self.none
        if newest != Self.none { newer[Int(newest)] = Int32(slot) }
        newest = Int32(slot)
        if oldest == Self.none { oldest = Int32(slot) }
    }

    /// Cuts an overlong fingerprint at a character boundary and marks the cut.
    static func boundedKey(_ fingerprint: String) -> String {
        guard fingerprint.utf8.count > maxKeyBytes else { return fingerprint }
        var kept = ""
        var bytes = 0
        for character in fingerprint {
            let size = character.utf8.count
            if bytes + size > maxKeyBytes - 3 { break }
            kept.append(character)
            bytes += size
        }
        return kept + "..."
    }
}
