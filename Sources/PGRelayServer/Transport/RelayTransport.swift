import NIOCore

/// The socket under a client session or a server connection (docs/relay-engine.md, "The
/// transport seam"): an engine connection (`SocketTransport`, plain TCP and Unix sockets) or a
/// NIO channel (`ChannelTransport`, TLS). Sessions and server connections speak only to this, so
/// that the protocol code does not know which one carries its bytes.
///
/// `onOwnLoop` says the caller runs on the owner's loop (the session's or server's, which is the
/// transport's loop for an engine connection): writes from elsewhere (a client on another loop
/// writing to its server) hop to the transport's loop, in order. The other members are used on
/// the owner's loop.
protocol RelayTransport: AnyObject {
    /// Open (not yet closed by either side).
    var isActive: Bool { get }
    /// False while more than the high watermark waits to be sent.
    var isWritable: Bool { get }
    var remoteAddress: SocketAddress? { get }
    var localAddress: SocketAddress? { get }

    /// Queues bytes until the next flush.
    func write(_ buffer: ByteBuffer, onOwnLoop: Bool)
    func flush(onOwnLoop: Bool)
    func writeAndFlush(_ buffer: ByteBuffer, onOwnLoop: Bool)
    /// Stops (false) or resumes (true) reading: back-pressure, rate holds.
    func setReading(_ enabled: Bool)
    /// Closes now; the owner hears `transportClosed` (once).
    func close()
    /// After a final error message: half-close, read and drop what the peer still sends, close
    /// when it does or after `linger` (see `ClientSession.closeAfterError`). Over TLS, where a
    /// half-close is not available, closes once the message is sent.
    func closeAfterError(linger: TimeAmount)
}

extension RelayTransport {
    func write(_ buffer: ByteBuffer) { write(buffer, onOwnLoop: true) }
    func flush() { flush(onOwnLoop: true) }
    func writeAndFlush(_ buffer: ByteBuffer) { writeAndFlush(buffer, onOwnLoop: true) }
}

/// What a transport reports to its session or server connection, always on the owner's loop.
protocol TransportOwner: AnyObject {
    var loop: EventLoop { get }
    func transportReceived(_ bytes: ByteBuffer)
    /// The end of one burst of reads: flush what it made the owner write.
    func transportReadComplete()
    func transportWritabilityChanged(_ writable: Bool)
    /// The connection is gone, whoever closed it. Once.
    func transportClosed()
    /// TLS carries the connection from now on: the negotiated version and cipher, as SHOW
    /// CLIENTS/SERVERS show them, and the peer's certificate (DER) if it sent one.
    func transportTLSEstablished(_ description: String, peerCertificate: [UInt8]?)
    /// The TLS layer failed (handshake, bad record); the connection closes after this.
    func transportTLSFailed(_ error: Error)
}
