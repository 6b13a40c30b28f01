#if os(Linux)
import NIOCore

/// Relays bytes both ways between two connections of one reactor, with back-pressure: what one
/// side receives is written to the other and flushed at the end of the read, and a side is not
/// read while the other is unwritable. When one side closes, the other closes once its queued
/// output is sent.
///
/// The plain relay `engine-relay` measures, and the model of how a session forwards: pgrelay's
/// sessions do the same with PostgreSQL messages in between.
public final class ConnectionRelay: SocketConnectionDelegate, @unchecked Sendable {
    public let first: SocketConnection
    public let second: SocketConnection
    /// The most bytes either side had queued right after a write: what the watermarks bound.
    public private(set) var largestQueuedBytes = 0
    /// How often either side turned unwritable.
    public private(set) var unwritableCount = 0
    /// Called on the reactor once both sides are closed.
    public var onClosed: (() -> Void)?

    /// Both connections must belong to the same reactor (a relay never hops threads).
    public init(_ first: SocketConnection, _ second: SocketConnection) {
        precondition(first.reactor === second.reactor, "a relay's connections share one reactor")
        self.first = first
        self.second = second
    }

    /// Starts both connections with the relay as their delegate. On their reactor's thread.
    public func start() {
        first.start(delegate: self)
        second.start(delegate: self)
    }

    private func peer(of connection: SocketConnection) -> SocketConnection {
        connection === first ? second : first
    }

    public func bytesReceived(_ bytes: ByteBuffer, on connection: SocketConnection) {
        let peer = peer(of: connection)
        peer.write(bytes)
        if peer.queuedBytes > largestQueuedBytes {
            largestQueuedBytes = peer.queuedBytes
        }
    }

    public func readComplete(on connection: SocketConnection) {
        peer(of: connection).flush()
    }

    public func writabilityChanged(_ isWritable: Bool, on connection: SocketConnection) {
        if !isWritable {
            unwritableCount += 1
        }
        peer(of: connection).setReading(isWritable)
    }

    public func closed(_ reason: SocketConnection.CloseReason, on connection: SocketConnection) {
        let peer = peer(of: connection)
        if peer.isOpen {
            peer.close(.afterQueuedWrites)
        } else {
            onClosed?()
            onClosed = nil
        }
    }
}
#endif
