/// Which queries get a span.
///
/// Parent-based, as OpenTelemetry's default sampler: a query whose application sent a
/// `traceparent` follows the caller's decision (its sampled flag), so the database leg appears
/// exactly in the traces the application keeps; a query without one starts a trace of its own
/// with probability `ratio` (`trace_sample_ratio`).
public struct TraceSampler: Equatable, Sendable {
    public let ratio: Double
    /// A root is sampled when a uniform 64-bit random number is below this; `nil` = always.
    private let threshold: UInt64?

    public init(ratio: Double) {
        let clamped = ratio.isNaN ? 0 : Swift.min(1, Swift.max(0, ratio))
        self.ratio = clamped
        if clamped >= 1 {
            threshold = nil
        } else {
            // 2^64 × ratio, computed in two halves so that ratios close to 1 do not overflow.
            threshold = UInt64(clamped * 9_223_372_036_854_775_808.0) << 1
        }
    }

    /// Whether roots are ever sampled.
    public var samplesRoots: Bool { threshold.map { $0 > 0 } ?? true }

    /// What to record for a query: a child of the caller's span, a new root, or nothing.
    public enum Decision: Equatable, Sendable {
        case none
        case child(of: TraceParent)
        case root
    }

    /// Decides for a query with the caller's context `parent` (if any); `random` is drawn only
    /// for a query without one.
    public func decide(parent: TraceParent?, random: () -> UInt64) -> Decision {
        if let parent { return parent.isSampled ? .child(of: parent) : .none }
        guard let threshold else { return .root }
        return threshold > 0 && random() < threshold ? .root : .none
    }
}

/// SplitMix64: a tiny, fast generator for span and trace ids and sampling draws (one per event
/// loop). Ids need to be unique, not secret; seeded from the system's generator.
public struct TraceIDGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A non-zero span id.
    public mutating func spanID() -> SpanID {
        var value = next()
        while value == 0 { value = next() }
        return SpanID(value)
    }

    /// A non-zero trace id.
    public mutating func traceID() -> TraceID {
        let high = next()
        var low = next()
        while high | low == 0 { low = next() }
        return TraceID(high: high, low: low)
    }
}
