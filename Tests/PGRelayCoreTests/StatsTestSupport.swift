import Synchronization
@testable import PGRelayCore

/// A clock the test moves by hand (monotonic nanoseconds).
final class ManualClock: Sendable {
    private let nanos: Mutex<UInt64>

    init(_ start: UInt64 = 1_000_000_000_000) {
        nanos = Mutex(start)
    }

    var now: UInt64 { nanos.withLock { $0 } }

    func advance(seconds: Double) {
        nanos.withLock { $0 += UInt64(seconds * 1e9) }
    }

    var function: @Sendable () -> UInt64 { { [self] in self.now } }
}

/// Deterministic pseudo-random numbers (SplitMix64), so a failing case can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func sample(ms: Double, database: String = "appdb", user: String = "app", route: QueryRoute = .primary,
            fingerprint: String? = nil, waitMs: Double = 0, isError: Bool = false) -> QuerySample {
    QuerySample(durationNanos: UInt64(ms * 1e6), waitNanos: UInt64(waitMs * 1e6), database: database, user: user,
                route: route, fingerprint: fingerprint, isError: isError)
}
