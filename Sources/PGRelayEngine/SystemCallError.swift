#if os(Linux)
import Glibc

/// A system call that failed, with the `errno` it set.
///
/// The engine reports every failed call with this type (in `SocketConnection.CloseReason.failed`,
/// a failed connect's future, a listener's error callback), so that a log line can say which
/// call failed and why without the engine logging anything itself.
public struct SystemCallError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The call, as in "connect" or "setsockopt(TCP_NODELAY)".
    public let call: String
    /// The `errno` value.
    public let code: Int32

    public init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    public var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
}
#endif
