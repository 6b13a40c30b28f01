#if os(Linux)

/// What a reactor calls when epoll reports events for a descriptor registered with it.
///
/// Implemented by the engine's own objects only (connections, listeners, pending connects), all
/// of which live on one reactor and are called on its thread.
protocol ReactorEventHandler: AnyObject {
    /// `events` is epoll's bit set (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
    func handleEvents(_ events: UInt32)
    /// The reactor is shutting down: close the descriptor and tell whoever waits.
    func closeForShutdown()
}

/// The 64-bit token registered with epoll for one handler: its slot in the table and the slot's
/// generation.
struct RegistrationToken: Equatable {
    let rawValue: UInt64

    fileprivate init(slot: UInt32, generation: UInt32) {
        rawValue = UInt64(generation) << 32 | UInt64(slot)
    }

    init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    fileprivate var slot: Int { Int(UInt32(truncatingIfNeeded: rawValue)) }
    fileprivate var generation: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }
}

/// The handlers registered with one reactor, found by the token epoll returns with each event.
///
/// A slot's generation changes when it is freed: an event for a descriptor closed earlier in the
/// same batch of events carries a token that no longer finds anything, even once the slot and the
/// descriptor number are used again.
struct RegistrationTable {
    /// The reactor's own wake-up eventfd; no handler's token reaches it, as that would take a
    /// table of 2^32 slots.
    static let wakeupToken = RegistrationToken(rawValue: UInt64.max)

    private var handlers: [ReactorEventHandler?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [UInt32] = []
    private(set) var count = 0

    mutating func insert(_ handler: ReactorEventHandler) -> RegistrationToken {
        count += 1
        if let slot = freeSlots.popLast() {
            handlers[Int(slot)] = handler
            return RegistrationToken(slot: slot, generation: generations[Int(slot)])
        }
        handlers.append(handler)
        generations.append(0)
        return RegistrationToken(slot: UInt32(handlers.count - 1), generation: 0)
    }

    /// The handler of `token`, or nil when it was removed since the token was made.
    subscript(token: RegistrationToken) -> ReactorEventHandler? {
        let slot = token.slot
        guard slot < handlers.count, generations[slot] == token.generation else { return nil }
        return handlers[slot]
    }

    /// Gives the registration of `token` to another handler (a finished connect's socket, which
    /// stays registered, becomes a connection).
    mutating func replace(_ token: RegistrationToken, with handler: ReactorEventHandler) {
        let slot = token.slot
        guard slot < handlers.count, generations[slot] == token.generation else { return }
        handlers[slot] = handler
    }

    mutating func remove(_ token: RegistrationToken) {
        let slot = token.slot
        guard slot < handlers.count, generations[slot] == token.generation, handlers[slot] != nil else { return }
        handlers[slot] = nil
        generations[slot] &+= 1
        freeSlots.append(UInt32(slot))
        count -= 1
    }

    /// Every registered handler, for shutdown.
    var allHandlers: [ReactorEventHandler] { handlers.compactMap { $0 } }
}
#endif
