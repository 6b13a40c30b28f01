#if os(Linux)
import CEngineLinux
import Glibc

/// One epoll instance: the kernel's list of a reactor's file descriptors and their events.
///
/// Each registration carries a 64-bit token that epoll hands back with every event; the reactor
/// makes it an index into its `RegistrationTable`, so that finding the handler of an event is an
/// array lookup.
struct Epoll {
    /// What a connected socket is registered for, once, for its whole life. Edge-triggered: epoll
    /// reports a socket when it *becomes* readable or writable, so there is no need to add and
    /// remove EPOLLOUT as output backs up and drains (an epoll_ctl each), and a socket that stays
    /// readable while its reading is paused does not wake the reactor again and again.
    static let connectionEvents = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
    /// A listening socket: readable means connections wait to be accepted.
    static let listenerEvents = EPOLLIN.rawValue | EPOLLET.rawValue
    /// Events that mean there is something to read: data, the peer's FIN (RDHUP), a hang-up or an
    /// error (both make the next read return 0 or the error).
    static let inputEvents = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
    /// The peer finished or the socket failed: input may end behind the bytes still queued.
    static let peerFinishedEvents = EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
    /// Events that mean a write may make progress (or will fail with the socket's error).
    static let outputEvents = EPOLLOUT.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
    static let errorEvent = EPOLLERR.rawValue

    let descriptor: Int32

    init() throws {
        descriptor = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard descriptor >= 0 else { throw SystemCallError("epoll_create1") }
    }

    func add(_ fd: Int32, events: UInt32, token: UInt64) throws(SystemCallError) {
        try control(EPOLL_CTL_ADD, fd, events: events, token: token, call: "epoll_ctl(ADD)")
    }

    func modify(_ fd: Int32, events: UInt32, token: UInt64) throws(SystemCallError) {
        try control(EPOLL_CTL_MOD, fd, events: events, token: token, call: "epoll_ctl(MOD)")
    }

    /// Not needed before closing a descriptor (close removes it, as the engine never duplicates
    /// one); for a descriptor that stays open but leaves this reactor.
    func remove(_ fd: Int32) throws(SystemCallError) {
        try control(EPOLL_CTL_DEL, fd, events: 0, token: 0, call: "epoll_ctl(DEL)")
    }

    private func control(_ operation: Int32, _ fd: Int32, events: UInt32, token: UInt64, call: String) throws(SystemCallError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        guard epoll_ctl(descriptor, operation, fd, &event) == 0 else { throw SystemCallError(call) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: no limit, 0: do not wait) and returns how many
    /// events it wrote to `events`; 0 also when a signal interrupted the wait (the caller's loop
    /// simply goes round again).
    func wait(into events: UnsafeMutablePointer<epoll_event>, capacity: Int32, timeoutMilliseconds: Int32) throws -> Int {
        let count = epoll_wait(descriptor, events, capacity, timeoutMilliseconds)
        if count >= 0 { return Int(count) }
        if errno == EINTR { return 0 }
        throw SystemCallError("epoll_wait")
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}
#endif
