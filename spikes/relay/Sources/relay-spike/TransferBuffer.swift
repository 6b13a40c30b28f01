/// The bytes of one direction of a relayed connection that were received from one socket and not
/// yet sent to the other: a fixed region filled at `end` and drained from `start`.
///
/// Its capacity bounds what the relay holds per direction: once it is full the engines stop
/// reading that side until the other side has taken bytes out (back-pressure). Its memory never
/// moves, so the io_uring engine can hand it to the kernel for the duration of an operation.
/// Noncopyable: exactly one owner frees it.
struct TransferBuffer: ~Copyable {
    /// 16 KiB per direction: a pgbench transaction is well under 1 KiB each way, and
    /// PostgreSQL's own send buffer (PqSendBuffer) is 8 KiB, so one receive takes a whole flush.
    static let defaultCapacity = 16 * 1024

    private let storage: UnsafeMutableRawPointer
    private let capacity: Int
    private var start = 0
    private var end = 0

    init(capacity: Int = TransferBuffer.defaultCapacity) {
        storage = .allocate(byteCount: capacity, alignment: 16)
        self.capacity = capacity
    }

    deinit { storage.deallocate() }

    var isEmpty: Bool { start == end }
    var hasFreeSpace: Bool { end < capacity }

    /// Where the next receive may write, and how much.
    var freeSpace: (pointer: UnsafeMutableRawPointer, count: Int) { (storage + end, capacity - end) }

    /// What waits to be sent.
    var pendingBytes: (pointer: UnsafeRawPointer, count: Int) { (UnsafeRawPointer(storage + start), end - start) }

    mutating func didReceive(_ count: Int) { end += count }

    /// Rewinds to the front once everything is sent, so that a buffer whose receives are each
    /// sent whole (the common case) always receives into its full capacity.
    mutating func didSend(_ count: Int) {
        start += count
        if start == end {
            start = 0
            end = 0
        }
    }
}
