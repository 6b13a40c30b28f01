import Synchronization

/// Gives each distinct set of tracked parameter values a number, so that the hot path can tell
/// that a server already has a client's values by comparing two integers instead of looking up
/// every parameter (what `TrackedParameters.differences` does) on each server assignment.
///
/// Numbers are never reused: when the table reaches its bound it is emptied and numbering goes
/// on, so a number a server or a session still holds keeps meaning the same values.
public final class ParameterSetIDs: Sendable {
    private struct State {
        var ids: [[String: String]: UInt64] = [:]
        var next: UInt64 = 1
    }

    /// Most sets remembered before the table is emptied.
    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// The number of this set of values (never 0, which stands for "unknown").
    public func id(for values: [String: String]) -> UInt64 {
        intern(values).id
    }

    /// The number of this set of values, and the table's own copy of them: clients with equal
    /// values then share one dictionary's storage (memory per idle client).
    public func intern(_ values: [String: String]) -> (id: UInt64, values: [String: String]) {
        state.withLock { state in
            if let index = state.ids.index(forKey: values) {
                let (stored, id) = state.ids[index]
                return (id, stored)
            }
            if state.ids.count >= capacity { state.ids.removeAll(keepingCapacity: true) }
            let id = state.next
            state.next += 1
            state.ids[values] = id
            return (id, values)
        }
    }
}
