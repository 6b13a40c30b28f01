#if os(Linux)
import CEngineLinux
import Glibc
import NIOCore

/// The socket system calls the engine makes on raw descriptors, each with its errors handled
/// once: EINTR retried where a retry is right, failures thrown as `SystemCallError`.
///
/// Every socket the engine makes or accepts is non-blocking and close-on-exec from its first
/// instant (SOCK_NONBLOCK | SOCK_CLOEXEC), so no other thread's fork/exec inherits it.
enum SocketCalls {
    static let nonBlockingCloseOnExec = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)

    /// A new non-blocking stream socket of `family` (AF_INET, AF_INET6, AF_UNIX).
    static func makeStreamSocket(family: Int32) throws -> Int32 {
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | nonBlockingCloseOnExec, 0)
        guard descriptor >= 0 else { throw SystemCallError("socket") }
        return descriptor
    }

    static func isInternet(family: Int32) -> Bool {
        family == AF_INET || family == AF_INET6
    }

    static func setOption(_ descriptor: Int32, level: Int32, option: Int32, value: Int32, name: String) throws {
        var value = value
        guard setsockopt(descriptor, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SystemCallError("setsockopt(\(name))")
        }
    }

    /// TCP_NODELAY: PostgreSQL's messages are small and each is waited for by the other end, so
    /// Nagle's algorithm would hold a reply back until the previous one is acknowledged.
    static func disableNagle(_ descriptor: Int32) throws {
        try setOption(descriptor, level: Int32(IPPROTO_TCP), option: TCP_NODELAY, value: 1, name: "TCP_NODELAY")
    }

    /// The socket's pending error (SO_ERROR), which also clears it: a non-blocking connect's
    /// outcome once the socket reported writable.
    static func pendingError(_ descriptor: Int32) -> Int32 {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length) == 0 else { return errno }
        return code
    }

    /// SO_PEERCRED's uid (Linux's `struct ucred` is pid, uid, gid).
    static func peerUserID(_ descriptor: Int32) -> uid_t? {
        var credentials: (pid: Int32, uid: uid_t, gid: gid_t) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, uid_t, gid_t)>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return credentials.uid
    }

    /// The address family of a socket (SO_DOMAIN); AF_UNSPEC when it cannot be read.
    static func family(of descriptor: Int32) -> Int32 {
        var family: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_DOMAIN, &family, &length) == 0 else { return AF_UNSPEC }
        return family
    }

    /// How a run of reads into one buffer ended.
    enum ReadOutcome: Equatable {
        /// The buffer has no room left; the socket may have more.
        case bufferFull
        /// EAGAIN, or a read that took less than it asked for (`stopAtShortRead`): the socket
        /// is empty (edge-triggered epoll reports new input as a new edge).
        case wouldBlock
        /// A read returned 0: the peer's FIN.
        case endOfInput
        case failed(Int32)
    }

    /// Reads into `buffer`'s writable bytes until it is full, the socket is empty, the peer has
    /// finished or a read fails, and moves the writer index past what arrived.
    ///
    /// `stopAtShortRead`: a read that returns less than the room it was given emptied the
    /// socket's receive queue, so the socket counts as empty without a second read to hear
    /// EAGAIN (half the relay's reads: 2 instead of 4 per transaction). Bytes that arrive after
    /// it make a new edge. Not when the peer's FIN may be queued behind the bytes (epoll said
    /// RDHUP or HUP): its edge has been reported already, so the reads go on to the end of input.
    ///
    /// One borrow of the buffer's memory for all the reads, and the whole storage rather than
    /// the writable slice (`withUnsafeMutableWritableBytes` rebases a slice through generic
    /// collection code): together ~100 instructions less per transaction.
    static func read(_ descriptor: Int32, into buffer: inout ByteBuffer, stopAtShortRead: Bool) -> ReadOutcome {
        var outcome = ReadOutcome.bufferFull
        // Indices are relative to the buffer's slice, which `withVeryUnsafeMutableBytes` starts at.
        let start = buffer.writerIndex
        let end = buffer.capacity
        let filled = buffer.withVeryUnsafeMutableBytes { storage -> Int in
            let space = storage.baseAddress! + start
            let room = min(end, storage.count) - start
            var filled = 0
            while filled < room {
                switch IOResult.retryingInterrupts({ pgrelay_read(descriptor, space + filled, UInt(room - filled)) }) {
                case .transferred(0):
                    outcome = .endOfInput
                    return filled
                case .transferred(let count):
                    filled += count
                    if stopAtShortRead && filled < room {
                        outcome = .wouldBlock
                        return filled
                    }
                case .wouldBlock:
                    outcome = .wouldBlock
                    return filled
                case .failed(let code):
                    outcome = .failed(code)
                    return filled
                }
            }
            return filled
        }
        buffer.moveWriterIndex(forwardBy: filled)
        return outcome
    }

    /// One plain send; MSG_NOSIGNAL as for `sendGathered`.
    static func send(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> IOResult {
        IOResult.retryingInterrupts { pgrelay_send(descriptor, bytes.baseAddress, UInt(bytes.count), Int32(MSG_NOSIGNAL)) }
    }

    /// One gathered write of `count` iovecs. MSG_NOSIGNAL: a peer that has gone makes the call
    /// fail with EPIPE instead of raising SIGPIPE, without touching the process's signal
    /// dispositions.
    static func sendGathered(_ descriptor: Int32, _ ioVectors: UnsafeMutablePointer<iovec>, count: Int) -> IOResult {
        var message = msghdr()
        message.msg_iov = ioVectors
        message.msg_iovlen = count
        return IOResult.retryingInterrupts { pgrelay_sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL)) }
    }

    /// shutdown(SHUT_WR): the peer reads its end of input once the bytes sent before arrive.
    static func shutdownOutput(_ descriptor: Int32) throws(SystemCallError) {
        guard shutdown(descriptor, Int32(SHUT_WR)) == 0 else { throw SystemCallError("shutdown(SHUT_WR)") }
    }

    /// Closes a descriptor. Not retried on EINTR: on Linux the descriptor is released even then,
    /// and a retry could close a descriptor another thread has just been given.
    static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    static func localAddress(of descriptor: Int32) throws -> SocketAddress {
        try address(of: descriptor, call: "getsockname", getsockname)
    }

    static func remoteAddress(of descriptor: Int32) throws -> SocketAddress {
        try address(of: descriptor, call: "getpeername", getpeername)
    }

    private static func address(
        of descriptor: Int32,
        call: String,
        _ get: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { get(descriptor, $0, &length) }
        }
        guard result == 0 else { throw SystemCallError(call) }
        return try SocketAddress(storage: storage)
    }
}
#endif
