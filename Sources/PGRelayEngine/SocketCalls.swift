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

    /// The address family of a socket (SO_DOMAIN); AF_UNSPEC when it cannot be read.
    static func family(of descriptor: Int32) -> Int32 {
        var family: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_DOMAIN, &family, &length) == 0 else { return AF_UNSPEC }
        return family
    }

    /// Reads into `buffer`'s writable bytes and moves its writer index past what arrived.
    static func read(_ descriptor: Int32, into buffer: inout ByteBuffer) -> IOResult {
        let result = buffer.withUnsafeMutableWritableBytes { space in
            IOResult.retryingInterrupts { Glibc.read(descriptor, space.baseAddress, space.count) }
        }
        if case .transferred(let count) = result, count > 0 {
            buffer.moveWriterIndex(forwardBy: count)
        }
        return result
    }

    /// One gathered write of `count` iovecs. MSG_NOSIGNAL: a peer that has gone makes the call
    /// fail with EPIPE instead of raising SIGPIPE, without touching the process's signal
    /// dispositions.
    static func sendGathered(_ descriptor: Int32, _ ioVectors: UnsafeMutablePointer<iovec>, count: Int) -> IOResult {
        var message = msghdr()
        message.msg_iov = ioVectors
        message.msg_iovlen = count
        return IOResult.retryingInterrupts { sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL)) }
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
