import Foundation
import NIOCore
import PGRelayCore
import Synchronization

/// The dashboard's latency history: one point per completed window slot, taken by a timer off
/// the proxy's event loops (`sample` once a second; a slot is added once, when it has ended).
final class QueryHistoryStore: Sendable {
    private struct State {
        var history = QueryHistory()
        var lastSlot: (slotNanos: UInt64, epoch: UInt64)?
    }

    private let state = Mutex(State())

    var points: [QueryHistoryPoint] { state.withLock { $0.history.points } }

    /// Adds the slot that ended last, unless it is already in. `monotonicNow` and `wallNow` are
    /// the same instant on the two clocks (points carry wall-clock times).
    func sample(_ registry: QueryStatsRegistry, monotonicNow: UInt64, wallNow: Date) {
        let slotNanos = registry.slotNanos
        guard slotNanos > 0, monotonicNow >= slotNanos else { return }
        let ended = monotonicNow / slotNanos - 1
        if let last = state.withLock({ $0.lastSlot }), last.slotNanos == slotNanos, last.epoch >= ended { return }
        guard let slot = registry.lastCompletedSlot(now: monotonicNow) else { return }
        let endMonotonic = (slot.epoch + 1) * slotNanos
        let end = wallNow.timeIntervalSince1970 - Double(monotonicNow - endMonotonic) / 1e9
        let point = QueryHistoryPoint(endUnixSeconds: end, seconds: Double(slotNanos) / 1e9, overall: slot.overall,
                                      byRoute: slot.byRoute, byDatabase: slot.byDatabase)
        state.withLock { state in
            state.history.append(point)
            state.lastSlot = (slotNanos, slot.epoch)
        }
    }
}
