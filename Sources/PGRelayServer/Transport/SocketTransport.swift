import NIOCore
import PGRelayEngine

/// A relay transport on one of pgrelay's own reactors (`PGRelayEngine`): the session or server
/// connection that owns it lives on the same reactor, so events reach it directly.
final class SocketTransport: RelayTransport, SocketConnectionDelegate {
    let connection: SocketConnection
    /// Until the connection closes (the connection holds this transport until then).
    private var owner: TransportOwner?

    init(_ connection: SocketConnection) {
        self.connection = connection
    }

    /// Starts reading; events go to `owner` from now on. On the connection's reactor.
    func start(owner: TransportOwner) {
        assert(owner.loop === connection.reactor)
        self.owner = owner
        connection.start(delegate: self)
    }

    var isActive: Bool { connection.isOpen }
    var isWritable: Bool { connection.isWritable }
    var remoteAddress: SocketAddress? { connection.remoteAddress }
    var localAddress: SocketAddress? { connection.localAddress }

    func write(_ buffer: ByteBuffer, onOwnLoop: Bool) {
        if onOwnLoop {
            connection.write(buffer)
        } else {
            connection.reactor.execute { [connection] in connection.write(buffer) }
        }
    }

    func flush(onOwnLoop: Bool) {
        if onOwnLoop {
            connection.flush()
        } else {
            connection.reactor.execute { [connection] in connection.flush() }
        }
    }

    func writeAndFlush(_ buffer: ByteBuffer, onOwnLoop: Bool) {
        if onOwnLoop {
            connection.write(buffer)
            connection.flush()
        } else {
            connection.reactor.execute { [connection] in
                connection.write(buffer)
                connection.flush()
            }
        }
    }

    func setReading(_ enabled: Bool) {
        connection.setReading(enabled)
    }

    func close() {
        connection.close()
    }

    func closeAfterError(linger: TimeAmount) {
        guard connection.isOpen else { return }
        // Reading goes on (and what arrives is dropped by the closed session) so that the
        // client's last bytes do not turn the close into a reset.
        connection.setReading(true)
        connection.halfClose()
        _ = connection.reactor.scheduleTask(in: linger) { [connection] in connection.close() }
    }

    /// Gives the socket to another layer (TLS on NIO): the descriptor, or nil while bytes are
    /// still queued. The owner hears nothing more from this transport.
    func detach() -> Int32? {
        guard let descriptor = connection.detachDescriptor() else { return nil }
        owner = nil
        return descriptor
    }

    // MARK: SocketConnectionDelegate

    func bytesReceived(_ bytes: ByteBuffer, on connection: SocketConnection) {
        owner?.transportReceived(bytes)
    }

    func readComplete(on connection: SocketConnection) {
        owner?.transportReadComplete()
    }

    func writabilityChanged(_ isWritable: Bool, on connection: SocketConnection) {
        owner?.transportWritabilityChanged(isWritable)
    }

    func closed(_ reason: SocketConnection.CloseReason, on connection: SocketConnection) {
        let owner = self.owner
        self.owner = nil
        owner?.transportClosed()
    }
}
