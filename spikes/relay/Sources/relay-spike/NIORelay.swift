import NIOCore
import NIOPosix

/// The SwiftNIO engine, as pgrelay relays today: a ServerBootstrap for clients, a ClientBootstrap
/// per client on the client's event loop, and a GlueHandler pair between the two channels.
func runNIORelay(_ configuration: RelayConfiguration) throws -> Never {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
    let upstream = try SocketAddress.makeAddressResolvingHost(configuration.upstream.host, port: Int(configuration.upstream.port))
    let server = try ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: Sockets.listenBacklog)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        // Nothing is read from a client until its upstream connection exists; the glue turns
        // reading on (and from then on paces it).
        .childChannelOption(.autoRead, value: false)
        .childChannelInitializer { client in
            ClientBootstrap(group: client.eventLoop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(to: upstream)
                .flatMapThrowing { upstreamChannel in
                    let (clientGlue, upstreamGlue) = GlueHandler.matchedPair()
                    try client.pipeline.syncOperations.addHandler(clientGlue)
                    try upstreamChannel.pipeline.syncOperations.addHandler(upstreamGlue)
                    try client.syncOptions?.setOption(.autoRead, value: true)
                }
        }
        .bind(host: configuration.listen.host, port: Int(configuration.listen.port))
        .wait()
    logLine("NIO relay on \(configuration.listen) -> \(configuration.upstream), \(configuration.threads) event loop(s)")
    try server.closeFuture.wait()
    fatal("the listening channel closed")
}

/// Joins two channels so that what one reads the other writes, after swift-nio-examples'
/// GlueHandler (connect-proxy). Back-pressure pairs reads with writes: a channel reads again only
/// while its partner is writable, and a partner that becomes writable again restarts the read
/// that was held back.
private final class GlueHandler {
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    private init() {}

    static func matchedPair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    // What the partner asks of this handler's channel.

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWriteEOF() {
        context?.close(mode: .output, promise: nil)
    }

    private func partnerCloseFull() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }
}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.partnerWriteEOF()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        partner?.partnerCloseFull()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
