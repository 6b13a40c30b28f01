#if os(Linux)
import NIOCore

/// What a `SocketConnection` tells its owner (a client session, a server connection, a relay),
/// always on the connection's reactor thread.
///
/// The calls come in this order: `bytesReceived` once or more for what one readiness event
/// brought, then `readComplete` (flush what you wrote in response: one flush per batch), and
/// `writabilityChanged` whenever the queued output crosses a watermark. `closed` comes exactly
/// once, last, whatever closed the connection; nothing comes after it.
public protocol SocketConnectionDelegate: AnyObject {
    /// Bytes the peer sent, in order. The buffer's storage is the reactor's receive buffer: keep
    /// it (or a slice) only as long as needed, since the reactor reads into a new allocation
    /// while any copy of it is alive (`ReceiveBufferPool`).
    func bytesReceived(_ bytes: ByteBuffer, on connection: SocketConnection)

    /// The connection read everything the socket had (or stopped because reading was paused or
    /// the peer finished): the moment to flush what was written in response.
    func readComplete(on connection: SocketConnection)

    /// `isWritable` turned false because more than the high watermark is queued, or true because
    /// the queue drained to the low watermark. Stop producing output for this connection while
    /// it is false (for a relay: pause reading the other side).
    func writabilityChanged(_ isWritable: Bool, on connection: SocketConnection)

    /// The connection is closed and its descriptor released; `reason` says why.
    func closed(_ reason: SocketConnection.CloseReason, on connection: SocketConnection)
}
#endif
