/// The connections of one reactor, each addressed by a 64-bit token the kernel carries for us
/// (epoll's `epoll_data.u64`, io_uring's `user_data`) and hands back with every event or
/// completion, so that finding a connection is an array index instead of a hash lookup.
///
/// A token holds the slot, the slot's generation and an 8-bit tag the engine chooses (which
/// socket, which operation). The generation changes when a slot is freed: a token of a connection
/// closed earlier in the same batch of events no longer finds anything, even once the slot is
/// reused.
struct SlotTable<Element: AnyObject> {
    struct Handle: Equatable {
        fileprivate let slot: UInt32
        fileprivate let generation: UInt32

        /// The token to register with the kernel for this connection and `tag`.
        func token(tag: UInt8) -> UInt64 {
            UInt64(generation) << 32 | UInt64(slot) << 8 | UInt64(tag)
        }

        init(token: UInt64) {
            slot = UInt32(truncatingIfNeeded: token >> 8) & 0x00FF_FFFF
            generation = UInt32(truncatingIfNeeded: token >> 32)
        }

        fileprivate init(slot: UInt32, generation: UInt32) {
            self.slot = slot
            self.generation = generation
        }
    }

    /// 24 bits of slot in a token.
    static var capacity: Int { 1 << 24 }

    static func tag(of token: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: token) }

    private var elements: [Element?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [UInt32] = []

    /// Nil when every slot is taken.
    mutating func insert(_ element: Element) -> Handle? {
        if let slot = freeSlots.popLast() {
            elements[Int(slot)] = element
            return Handle(slot: slot, generation: generations[Int(slot)])
        }
        guard elements.count < Self.capacity else { return nil }
        elements.append(element)
        generations.append(0)
        return Handle(slot: UInt32(elements.count - 1), generation: 0)
    }

    /// The connection of `handle`, or nil when it was closed since the handle was made.
    subscript(handle: Handle) -> Element? {
        let index = Int(handle.slot)
        guard index < elements.count, generations[index] == handle.generation else { return nil }
        return elements[index]
    }

    mutating func remove(_ handle: Handle) {
        let index = Int(handle.slot)
        guard index < elements.count, generations[index] == handle.generation else { return }
        elements[index] = nil
        generations[index] &+= 1
        freeSlots.append(handle.slot)
    }
}
