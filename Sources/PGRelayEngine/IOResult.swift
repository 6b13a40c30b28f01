#if os(Linux)
import Glibc

/// What a non-blocking `read` or `sendmsg` came to once `EINTR` has been retried.
enum IOResult: Equatable {
    /// Bytes moved. For a read, 0 is the peer's end of input (its FIN).
    case transferred(Int)
    /// `EAGAIN`: nothing now; with edge-triggered epoll, wait for the next edge.
    case wouldBlock
    /// Any other error: the connection is broken (ECONNRESET, EPIPE, ETIMEDOUT, ...).
    case failed(Int32)

    /// Runs `call` (a read or write returning a byte count or -1) again while it is interrupted
    /// by a signal, and classifies what it returned.
    @inline(__always)
    static func retryingInterrupts(_ call: () -> Int) -> IOResult {
        while true {
            let result = call()
            if result >= 0 { return .transferred(result) }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(code)
            }
        }
    }
}
#endif
