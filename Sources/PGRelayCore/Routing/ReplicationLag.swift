/// A WAL position (`pg_lsn`), as PostgreSQL prints it: two hex numbers, `16/B374D848`.
public struct WALPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) {
        self.value = value
    }

    /// Parses PostgreSQL's text form; nil for anything else (each half is 1–8 hex digits).
    public init?(parsing text: String) {
        let halves = text.split(separator: "/", omittingEmptySubsequences: false)
        // UInt32(_:radix:) also takes a sign, which PostgreSQL never prints.
        guard halves.count == 2,
              halves.allSatisfy({ (1...8).contains($0.utf8.count) && $0.allSatisfy(\.isHexDigit) }),
              let high = UInt32(halves[0], radix: 16), let low = UInt32(halves[1], radix: 16)
        else { return nil }
        value = UInt64(high) << 32 | UInt64(low)
    }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    public static func < (lhs: WALPosition, rhs: WALPosition) -> Bool { lhs.value < rhs.value }
}

/// How far a replica is behind its primary, from what one round of checks saw.
///
/// The replay timestamp alone (`now() - pg_last_xact_replay_timestamp()`) is the age of the last
/// transaction the replica replayed: on an idle primary it grows without end although nothing is
/// behind. WAL positions settle that case: a replica that has replayed everything the primary had
/// written when it was asked is not behind at all.
public struct ReplicationLag: Sendable, Equatable {
    /// Estimated lag in milliseconds; infinity when the replica is behind by an unmeasurable time.
    public var milliseconds: Double
    /// WAL bytes still to replay, when the primary's position is known.
    public var bytes: UInt64?

    public init(milliseconds: Double, bytes: UInt64?) {
        self.milliseconds = milliseconds
        self.bytes = bytes
    }

    /// Estimates the lag of a replica.
    ///
    /// - Parameters:
    ///   - primaryPosition: the primary's `pg_current_wal_lsn()`, read before the replica was asked
    ///     (so a replica at or past it has caught up); nil when the primary could not be checked.
    ///   - receivePosition: the replica's `pg_last_wal_receive_lsn()` (nil: not streaming).
    ///   - replayPosition: the replica's `pg_last_wal_replay_lsn()`.
    ///   - replayAgeMs: `now() - pg_last_xact_replay_timestamp()` in ms (nil: nothing replayed yet).
    ///
    /// Rules, first match wins:
    /// 1. replay ≥ primary position → 0: caught up.
    /// 2. primary position unknown, and the replica has replayed all it received → 0: nothing known
    ///    to be pending (the primary being away is the primary check's business).
    /// 3. otherwise the replay age, which overstates the lag after an idle spell of the primary
    ///    (errs towards sending reads to the primary, never towards stale reads).
    /// 4. behind with no replay age (nothing replayed since the replica started) → infinity: the
    ///    lag cannot be measured, so the replica counts as lagging until it catches up. Without
    ///    the primary's position either, 0: nothing says it is behind.
    public static func estimate(primaryPosition: WALPosition?, receivePosition: WALPosition?,
                                replayPosition: WALPosition?, replayAgeMs: Double?) -> ReplicationLag {
        var bytes: UInt64?
        if let primaryPosition, let replayPosition {
            bytes = primaryPosition > replayPosition ? primaryPosition.value - replayPosition.value : 0
        }
        if bytes == 0 {
            return ReplicationLag(milliseconds: 0, bytes: 0)
        }
        if primaryPosition == nil, let receivePosition, let replayPosition, replayPosition >= receivePosition {
            return ReplicationLag(milliseconds: 0, bytes: nil)
        }
        if let replayAgeMs, replayAgeMs.isFinite {
            return ReplicationLag(milliseconds: max(replayAgeMs, 0), bytes: bytes)
        }
        return ReplicationLag(milliseconds: bytes == nil ? 0 : .infinity, bytes: bytes)
    }
}
