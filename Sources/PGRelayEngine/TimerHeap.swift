#if os(Linux)
import NIOCore

/// A task scheduled on a reactor for a deadline.
///
/// A class so that the `Scheduled` handed to the caller can find it again to cancel it: it knows
/// its place in the heap, which makes removal O(log n). Cancelled timers are removed at once
/// rather than left to expire, so that a query timeout set and cancelled for every query does not
/// pile up entries until their deadlines.
///
/// Its mutable state is only touched on its reactor's thread.
final class ScheduledTimer: @unchecked Sendable {
    let deadline: NIODeadline
    /// Runs the task and completes its promise.
    let fire: () -> Void
    /// Fails the promise: the reactor stopped before the deadline.
    let abandon: () -> Void
    /// Orders timers with the same deadline by insertion, so that they fire first in, first out.
    fileprivate(set) var sequence: UInt64 = 0
    /// The entry's index in the heap's array; nil when it is not in a heap.
    fileprivate(set) var heapIndex: Int?

    init(deadline: NIODeadline, fire: @escaping () -> Void, abandon: @escaping () -> Void) {
        self.deadline = deadline
        self.fire = fire
        self.abandon = abandon
    }

    fileprivate func firesBefore(_ other: ScheduledTimer) -> Bool {
        deadline < other.deadline || (deadline == other.deadline && sequence < other.sequence)
    }
}

/// A binary min-heap of timers by deadline, with removal of any entry.
struct TimerHeap {
    private var entries: [ScheduledTimer] = []
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    /// The deadline of the timer that fires next.
    var earliestDeadline: NIODeadline? { entries.first?.deadline }

    mutating func insert(_ timer: ScheduledTimer) {
        guard timer.heapIndex == nil else { return }
        timer.sequence = nextSequence
        nextSequence &+= 1
        entries.append(timer)
        timer.heapIndex = entries.count - 1
        siftUp(from: entries.count - 1)
    }

    /// Removes `timer`; false when it is not in the heap (it fired, or was removed before).
    @discardableResult
    mutating func remove(_ timer: ScheduledTimer) -> Bool {
        guard let index = timer.heapIndex, index < entries.count, entries[index] === timer else { return false }
        removeEntry(at: index)
        return true
    }

    /// Removes and returns the earliest timer if its deadline is not after `now`.
    mutating func popDue(now: NIODeadline) -> ScheduledTimer? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        removeEntry(at: 0)
        return first
    }

    /// Empties the heap, returning its timers in no particular order.
    mutating func removeAll() -> [ScheduledTimer] {
        let all = entries
        entries.removeAll()
        for timer in all { timer.heapIndex = nil }
        return all
    }

    private mutating func removeEntry(at index: Int) {
        let removed = entries[index]
        let last = entries.removeLast()
        removed.heapIndex = nil
        guard index < entries.count else { return }
        entries[index] = last
        last.heapIndex = index
        // The moved entry may belong above or below its new place.
        if index > 0 && last.firesBefore(entries[(index - 1) / 2]) {
            siftUp(from: index)
        } else {
            siftDown(from: index)
        }
    }

    private mutating func siftUp(from start: Int) {
        var index = start
        while index > 0 {
            let parent = (index - 1) / 2
            guard entries[index].firesBefore(entries[parent]) else { return }
            swapEntries(index, parent)
            index = parent
        }
    }

    private mutating func siftDown(from start: Int) {
        var index = start
        while true {
            let left = 2 * index + 1
            let right = left + 1
            var smallest = index
            if left < entries.count && entries[left].firesBefore(entries[smallest]) { smallest = left }
            if right < entries.count && entries[right].firesBefore(entries[smallest]) { smallest = right }
            guard smallest != index else { return }
            swapEntries(index, smallest)
            index = smallest
        }
    }

    private mutating func swapEntries(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        entries[a].heapIndex = a
        entries[b].heapIndex = b
    }
}
#endif
