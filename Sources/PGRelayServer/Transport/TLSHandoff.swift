import NIOCore
import NIOPosix
import NIOSSL

/// Moves a connected socket from the engine to NIO for TLS: NIOSSL's handlers work on channels,
/// so a connection that turns to TLS (a client's SSLRequest or direct TLS, a server's 'S') leaves
/// its reactor for a NIO loop, where the handshake and every record are done. The session or
/// server connection stays where it was and talks to the new `ChannelTransport`
/// (docs/tls.md, "TLS and the relay engine").
enum TLSHandoff {
    /// pgrelay is the TLS server: a client connection. `firstBytes` are bytes the engine
    /// already read (the ClientHello of a direct TLS connection), fed to the TLS handler first.
    static func acceptTLS(descriptor: Int32, context: NIOSSLContext, alpnCheck: Bool, firstBytes: ByteBuffer?,
                          on group: EventLoopGroup, owner: TransportOwner) -> (ChannelTransport, EventLoopFuture<Void>) {
        let transport = ChannelTransport(ownerLoop: owner.loop)
        let connected = ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(TLSHandshakeObserver(serverBytesAre: .outbound))
                    try pipeline.addHandler(NIOSSLServerHandler(context: context))
                    if alpnCheck { try pipeline.addHandler(DirectTLSALPNCheck()) }
                    try pipeline.addHandler(TransportChannelHandler(transport: transport, owner: owner, role: .server))
                }
            }
            .withConnectedSocket(descriptor)
            .map { channel in
                if let firstBytes { channel.pipeline.fireChannelRead(firstBytes) }
            }
        return (transport, connected)
    }

    /// pgrelay is the TLS client: a server connection whose server answered 'S'.
    static func startTLS(descriptor: Int32, context: NIOSSLContext, host: String, on group: EventLoopGroup,
                         owner: TransportOwner) -> (ChannelTransport, EventLoopFuture<Void>) {
        let transport = ChannelTransport(ownerLoop: owner.loop)
        // SNI and host name checks need a DNS name; for an IP address NIOSSL checks the
        // certificate's IP SANs against the peer address instead.
        let hostName = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        let connected = ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(TLSHandshakeObserver(serverBytesAre: .inbound))
                    try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: hostName))
                    try pipeline.addHandler(TransportChannelHandler(transport: transport, owner: owner, role: .client))
                }
            }
            .withConnectedSocket(descriptor)
            .map { _ in }
        return (transport, connected)
    }
}
