import NIOCore
import NIOSSL
import PGRelayEngine

extension ClientSession: TransportOwner {
    /// A client accepted by the engine: the session starts on the connection's reactor.
    static func start(runtime: ProxyRuntime, connection: SocketConnection, isUnixSocket: Bool) {
        let socket = SocketTransport(connection)
        let session = ClientSession(runtime: runtime, transport: socket, loop: connection.reactor, isUnixSocket: isUnixSocket)
        socket.start(owner: session)
        session.start()
    }

    func transportReceived(_ bytes: ByteBuffer) {
        clientRead(bytes)
    }

    func transportReadComplete() {
        clientReadComplete()
    }

    func transportWritabilityChanged(_ writable: Bool) {
        clientWritabilityChanged(writable)
    }

    func transportClosed() {
        clientClosed()
    }

    func transportTLSEstablished(_ description: String, peerCertificate: [UInt8]?) {
        tlsDescription = description
        self.peerCertificate = peerCertificate
    }

    func transportTLSFailed(_ error: Error) {
        // A client that drops the connection without close_notify is common and harmless.
        if case NIOSSLError.uncleanShutdown = error { return }
        if error is NIOSSLError || error is BoringSSLError {
            logger.info("client TLS failed", metadata: ["error": "\(error)"])
        }
    }
}
