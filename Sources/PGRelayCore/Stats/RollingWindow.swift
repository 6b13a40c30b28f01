import Histogram

/// How the rolling window is cut into a few coarse slots.
///
/// A full HDR histogram per slot is ~94 KiB, so the window uses at most 6 slots (6 × 10 s for the
/// default 60 s). A slot is live while it is one of the `slotCount` most recent ones, so a sample
/// leaves the window before it is `windowSeconds` old, and the window always covers at least the
/// last (slotCount − 1) / slotCount of it.
struct WindowLayout: Equatable, Sendable {
    static let maxSlots = 6

    let slotCount: Int
    let slotNanos: UInt64

    init(windowSeconds: Int) {
        let seconds = Swift.max(1, windowSeconds)
        slotCount = Swift.min(Self.maxSlots, seconds)
        slotNanos = UInt64(seconds) * 1_000_000_000 / UInt64(slotCount)
    }

    /// The slot number a monotonic time falls in.
    func epoch(at nanos: UInt64) -> UInt64 { nanos / slotNanos }

    /// Whether a slot stamped `slotEpoch` still counts at `currentEpoch`.
    func isLive(_ slotEpoch: UInt64, at currentEpoch: UInt64) -> Bool {
        slotEpoch <= currentEpoch && slotEpoch &+ UInt64(slotCount) > currentEpoch
    }

    /// Where in the ring a slot lives.
    func position(of epoch: UInt64) -> Int { Int(epoch % UInt64(slotCount)) }
}

/// The HDR histogram used for rolling windows: microseconds, 1 µs to 1 h, 3 significant digits,
/// 32-bit counts (a slot never sees 4 billion queries), which halves the footprint to ~94 KiB.
enum LatencyHistogram {
    typealias Storage = Histogram<UInt32>
    static let highestMicros: UInt64 = 3_600_000_000

    static func make() -> Storage {
        Storage(lowestDiscernibleValue: 1, highestTrackableValue: highestMicros, numberOfSignificantValueDigits: .three)
    }

    /// Bytes one histogram holds (measured from a real instance, so the documented bound stays true).
    static let footprintBytes: Int = make().estimatedFootprintInBytes
}

/// One window slot of one series.
struct WindowSlot: Sendable {
    var epoch: UInt64 = .max
    var histogram: LatencyHistogram.Storage?
    var sumMicros: UInt64 = 0
    var slow: UInt64 = 0
    var errors: UInt64 = 0

    mutating func record(micros: UInt64, isSlow: Bool, isError: Bool, epoch newEpoch: UInt64) {
        if epoch != newEpoch { restart(epoch: newEpoch) }
        let value = Swift.min(micros, LatencyHistogram.highestMicros)
        if case .none = histogram {
            var fresh = LatencyHistogram.make()
            fresh.record(value)
            histogram = fresh
        } else {
            histogram!.record(value)
        }
        sumMicros &+= micros
        if isSlow { slow &+= 1 }
        if isError { errors &+= 1 }
    }

    /// Empties the slot for a new epoch, keeping the histogram's memory for reuse.
    mutating func restart(epoch newEpoch: UInt64) {
        epoch = newEpoch
        histogram?.reset()
        sumMicros = 0
        slow = 0
        errors = 0
    }
}

/// The rolling window of one key (a database and route, a user, or the wait time).
struct WindowSeries: Sendable {
    private(set) var slots: [WindowSlot]
    private(set) var lastEpoch: UInt64 = 0

    init(layout: WindowLayout) {
        slots = [WindowSlot](repeating: WindowSlot(), count: layout.slotCount)
    }

    mutating func record(micros: UInt64, isSlow: Bool, isError: Bool, epoch: UInt64, layout: WindowLayout) {
        // One in-place access to the slot: reading fields through `slots[position]` one by one
        // copied the slot (and retained its histogram) on every query.
        slots[layout.position(of: epoch)].record(micros: micros, isSlow: isSlow, isError: isError, epoch: epoch)
        lastEpoch = epoch
    }

    /// True when no slot can be live any more, so the series may be dropped to free memory.
    func isIdle(at currentEpoch: UInt64, layout: WindowLayout) -> Bool {
        !layout.isLive(lastEpoch, at: currentEpoch)
    }
}

/// Live slots merged, ready to summarize.
struct WindowAccumulator {
    private(set) var histogram: LatencyHistogram.Storage?
    private(set) var sumMicros: UInt64 = 0
    private(set) var slow: UInt64 = 0
    private(set) var errors: UInt64 = 0

    var count: UInt64 { histogram?.totalCount ?? 0 }

    mutating func add(_ series: WindowSeries, at currentEpoch: UInt64, layout: WindowLayout) {
        for slot in series.slots where layout.isLive(slot.epoch, at: currentEpoch) {
            add(slot)
        }
    }

    /// Adds one slot (the history's point of a completed slot).
    mutating func add(_ slot: WindowSlot) {
        guard let slotHistogram = slot.histogram, slotHistogram.totalCount > 0 else { return }
        addHistogram(slotHistogram)
        sumMicros &+= slot.sumMicros
        slow &+= slot.slow
        errors &+= slot.errors
    }

    mutating func add(_ other: WindowAccumulator) {
        guard let otherHistogram = other.histogram else { return }
        addHistogram(otherHistogram)
        sumMicros &+= other.sumMicros
        slow &+= other.slow
        errors &+= other.errors
    }

    private mutating func addHistogram(_ other: LatencyHistogram.Storage) {
        if histogram == nil {
            histogram = other
        } else {
            histogram!.add(other)
        }
    }

    /// The summary of everything merged so far.
    func summary() -> LatencySummary {
        guard let histogram, histogram.totalCount > 0 else { return .empty }
        let count = histogram.totalCount
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        return LatencySummary(
            count: count,
            slow: slow,
            errors: errors,
            minMs: ms(histogram.min),
            avgMs: Double(sumMicros) / Double(count) / 1000,
            maxMs: ms(histogram.maxRecorded),
            p50Ms: ms(histogram.valueAtPercentile(50)),
            p90Ms: ms(histogram.valueAtPercentile(90)),
            p95Ms: ms(histogram.valueAtPercentile(95)),
            p99Ms: ms(histogram.valueAtPercentile(99)))
    }
}
