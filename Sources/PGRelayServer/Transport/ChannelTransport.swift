import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOTLS

/// A relay transport on a NIO channel: TLS connections, whose encryption NIOSSL's handlers do.
/// The channel's loop is usually not the owner's (sessions and servers live on reactors; a
/// socket that turned to TLS was handed to NIO), so events hop to the owner's loop and writes to
/// the channel's, each in order. A channel on the owner's own loop skips both hops.
///
/// Made before its channel exists (the handshake's pipeline is built on another loop); until
/// the channel is there, writes are dropped (the peer has not finished its handshake, nothing
/// may be sent) and a close is remembered.
final class ChannelTransport: RelayTransport, @unchecked Sendable {
    private struct State {
        var channel: Channel?
        var closeRequested = false
    }
    private let state = NIOLockedValueBox(State())
    /// Set once by `attach`, on the channel's loop; read from the owner's loop after that (the
    /// owner only hears of the channel through events that hop after `attach`).
    private var channel: Channel? { state.withLockedValue { $0.channel } }
    /// Writes from the channel's loop enter the pipeline at the transport's handler.
    private var outbound = HandlerOutbound()
    private let ownerLoop: EventLoop

    init(ownerLoop: EventLoop) {
        self.ownerLoop = ownerLoop
    }

    /// On the channel's loop, from `TransportChannelHandler.handlerAdded`.
    fileprivate func attach(_ context: ChannelHandlerContext) {
        outbound.attach(context)
        let closeRequested = state.withLockedValue { state -> Bool in
            state.channel = context.channel
            return state.closeRequested
        }
        if closeRequested { context.close(promise: nil) }
    }

    fileprivate func detach() {
        outbound.detach()
    }

    private var sharesOwnerLoop: Bool { channel?.eventLoop === ownerLoop }

    var isActive: Bool { channel?.isActive ?? !state.withLockedValue { $0.closeRequested } }
    var isWritable: Bool { channel?.isWritable ?? true }
    var remoteAddress: SocketAddress? { channel?.remoteAddress }
    var localAddress: SocketAddress? { channel?.localAddress }

    func write(_ buffer: ByteBuffer, onOwnLoop: Bool) {
        outbound.write(buffer, onOwnLoop: onOwnLoop && sharesOwnerLoop)
    }

    func flush(onOwnLoop: Bool) {
        outbound.flush(onOwnLoop: onOwnLoop && sharesOwnerLoop)
    }

    func writeAndFlush(_ buffer: ByteBuffer, onOwnLoop: Bool) {
        outbound.writeAndFlush(buffer, onOwnLoop: onOwnLoop && sharesOwnerLoop)
    }

    func setReading(_ enabled: Bool) {
        _ = channel?.setOption(ChannelOptions.autoRead, value: enabled)
    }

    func close() {
        let channel = state.withLockedValue { state -> Channel? in
            state.closeRequested = true
            return state.channel
        }
        channel?.close(promise: nil)
    }

    func closeAfterError(linger: TimeAmount) {
        guard let channel else {
            close()
            return
        }
        // The error was written before this call; a flush carries it out before the close.
        channel.eventLoop.execute {
            channel.flush()
            channel.close(promise: nil)
        }
    }
}

/// The last handler of a TLS connection's pipeline: bytes and lifecycle events go to the
/// transport's owner, on the owner's loop.
final class TransportChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let transport: ChannelTransport
    private var owner: TransportOwner?
    /// Which TLS handler to ask for the version and the peer's certificate.
    private let role: TLSRole

    enum TLSRole {
        /// pgrelay is the TLS server (a client's connection).
        case server
        /// pgrelay is the TLS client (a connection to PostgreSQL).
        case client
    }

    init(transport: ChannelTransport, owner: TransportOwner, role: TLSRole) {
        self.transport = transport
        self.owner = owner
        self.role = role
    }

    private func toOwner(_ body: @escaping (TransportOwner) -> Void) {
        guard let owner else { return }
        if owner.loop.inEventLoop {
            body(owner)
        } else {
            owner.loop.execute { body(owner) }
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        transport.attach(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        transport.detach()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        toOwner { $0.transportReceived(bytes) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        toOwner { $0.transportReadComplete() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        toOwner { $0.transportWritabilityChanged(writable) }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        toOwner { $0.transportClosed() }
        owner = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            let version: TLSVersion?
            let certificate: NIOSSLCertificate?
            switch role {
            case .server:
                let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
                version = handler?.tlsVersion
                certificate = handler?.peerCertificate
            case .client:
                let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                version = handler?.tlsVersion
                certificate = nil
            }
            let description = TLSHandshakeObserver.takeSummary(from: context.pipeline, fallback: ServerTLSNegotiation.describe(version))
            let der = certificate.flatMap { try? $0.toDERBytes() }
            toOwner { $0.transportTLSEstablished(description, peerCertificate: der) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        toOwner { $0.transportTLSFailed(error) }
        context.close(promise: nil)
    }
}
