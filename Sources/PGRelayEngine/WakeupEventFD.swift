#if os(Linux)
import CEngineLinux
import Glibc

/// An eventfd registered with a reactor's epoll, written by other threads to wake the reactor
/// out of `epoll_wait` when they hand it a task.
struct WakeupEventFD {
    let descriptor: Int32

    init() throws {
        descriptor = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard descriptor >= 0 else { throw SystemCallError("eventfd") }
    }

    /// Adds 1 to the counter, which makes the descriptor readable. Only EINTR is retried: EAGAIN
    /// means the counter is at its maximum, so the descriptor is readable already, and any other
    /// error cannot happen on a valid eventfd.
    func signal() {
        var one: UInt64 = 1
        while write(descriptor, &one, MemoryLayout<UInt64>.size) < 0 && errno == EINTR {}
    }

    /// Resets the counter to 0: the next `signal` raises a new edge. EAGAIN (already 0) is fine.
    func drain() {
        var value: UInt64 = 0
        while read(descriptor, &value, MemoryLayout<UInt64>.size) < 0 && errno == EINTR {}
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}
#endif
