import Crypto
import Foundation
import _CryptoExtras

/// A bounded, thread-safe cache of SCRAM's SaltedPassword = Hi(password, salt, iterations).
///
/// One PBKDF2-SHA-256 derivation at 4096 rounds costs about half a millisecond, and every SCRAM
/// login with a known password needs one; the cache makes repeated logins cost microseconds.
/// Entries are keyed by a SHA-256 digest of (password, salt, iterations), so the cache never holds
/// a password; it does hold derived keys, which are as sensitive as the stored secrets themselves.
/// When full, the oldest entry is evicted.
public final class PBKDF2Cache: @unchecked Sendable {
    /// The cache shared by all exchanges unless a test passes its own.
    public static let shared = PBKDF2Cache(capacity: 4096)

    /// Largest accepted iteration count: bounds the CPU a hostile server can make us spend.
    public static let maximumIterations = 10_000_000

    /// Most entries kept.
    public let capacity: Int

    private let lock = NSLock()
    private var entries: [[UInt8]: [UInt8]] = [:]
    private var insertionOrder: [[UInt8]] = []
    private var oldest = 0
    private var derivationCount = 0

    /// Creates an empty cache holding at most `capacity` (at least 1) derived keys.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// How many derivations the cache has actually computed (misses); for tests and metrics.
    public var derivations: Int {
        locked { derivationCount }
    }

    /// How many entries are cached.
    public var count: Int {
        locked { entries.count }
    }

    /// SaltedPassword for the (already SASLprep-normalized) password bytes.
    ///
    /// - Throws: ``AuthError/protocolViolation(detail:)`` when `iterations` is outside
    ///   1...``maximumIterations`` or the salt is empty.
    public func saltedPassword(password: [UInt8], salt: [UInt8], iterations: Int) throws -> [UInt8] {
        guard (1...Self.maximumIterations).contains(iterations) else {
            throw AuthError.protocolViolation(detail: "SCRAM iteration count \(iterations) is out of range")
        }
        guard !salt.isEmpty else {
            throw AuthError.protocolViolation(detail: "empty SCRAM salt")
        }
        let key = Self.cacheKey(password: password, salt: salt, iterations: iterations)
        if let cached = locked({ entries[key] }) {
            return cached
        }
        // Derive outside the lock: other logins must not wait half a millisecond for this one.
        let derived = try KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: .sha256,
            outputByteCount: SCRAMPrimitives.keyLength, unsafeUncheckedRounds: iterations
        ).withUnsafeBytes { Array($0) }
        locked { insert(key: key, value: derived) }
        return derived
    }

    /// Empties the cache, e.g. after the auth_file changed.
    public func removeAll() {
        locked {
            entries.removeAll()
            insertionOrder.removeAll()
            oldest = 0
        }
    }

    /// Must be called with the lock held.
    private func insert(key: [UInt8], value: [UInt8]) {
        derivationCount += 1
        guard entries.updateValue(value, forKey: key) == nil else { return }
        if insertionOrder.count < capacity {
            insertionOrder.append(key)
        } else {
            // insertionOrder is a ring once full: overwrite the oldest slot.
            entries.removeValue(forKey: insertionOrder[oldest])
            insertionOrder[oldest] = key
            oldest = (oldest + 1) % capacity
        }
    }

    /// NSLock's own `withLock` needs macOS 14; the package supports macOS 13.
    private func locked<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private static func cacheKey(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var hasher = SHA256()
        // Length prefixes keep (password, salt) pairs from colliding by shifting bytes across.
        withUnsafeBytes(of: UInt64(password.count).bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: password)
        withUnsafeBytes(of: UInt64(salt.count).bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: salt)
        withUnsafeBytes(of: UInt64(iterations).bigEndian) { hasher.update(bufferPointer: $0) }
        return Array(hasher.finalize())
    }
}
