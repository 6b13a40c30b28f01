import NIOCore
import NIOSSL
import NIOTLS

/// Thin NIO adapter: bytes and lifecycle events go to the `ClientSession`.
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let runtime: ProxyRuntime
    private let isUnixSocket: Bool
    private var session: ClientSession?

    init(runtime: ProxyRuntime, isUnixSocket: Bool) {
        self.runtime = runtime
        self.isUnixSocket = isUnixSocket
    }

    func channelActive(context: ChannelHandlerContext) {
        let session = ClientSession(runtime: runtime, channel: context.channel, isUnixSocket: isUnixSocket)
        self.session = session
        session.outbound.attach(context)
        session.start()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session?.clientRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        session?.clientReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        session?.clientWritabilityChanged(context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        session?.clientClosed()
        session?.outbound.detach()
        session = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            session?.tlsHandshakeCompleted()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A client that drops the connection without close_notify is common and harmless.
        if case NIOSSLError.uncleanShutdown = error {
            // ignored
        } else if error is NIOSSLError || error is BoringSSLError {
            runtime.logger.info("client TLS failed", metadata: ["error": "\(error)"])
        }
        context.close(promise: nil)
    }
}
