import NIOCore
import PGRelayCore

/// Sits on the socket side of a NIOSSL handler during the handshake and shows the server's
/// cleartext handshake bytes to a `TLSHandshakeSniffer`: outbound when pgrelay is the TLS server
/// (client connections), inbound when it is the TLS client (server connections). Bytes pass
/// unchanged. Whoever sees the handshake complete reads `summary` and removes the observer, so it
/// costs nothing after the handshake.
final class TLSHandshakeObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Which direction carries the TLS server's bytes.
    enum ServerSide { case outbound, inbound }

    private let serverSide: ServerSide
    private var sniffer = TLSHandshakeSniffer()

    init(serverBytesAre serverSide: ServerSide) {
        self.serverSide = serverSide
    }

    /// What was negotiated, as PgBouncer's `tls` column shows it; `fallback` if the handshake
    /// could not be read.
    func summary(fallback: String) -> String {
        let text = sniffer.description
        return text.isEmpty ? fallback : text
    }

    /// The summary of the pipeline's observer, which then leaves; `fallback` without one.
    static func takeSummary(from pipeline: ChannelPipeline, fallback: String) -> String {
        guard let observer = try? pipeline.syncOperations.handler(type: TLSHandshakeObserver.self) else { return fallback }
        pipeline.syncOperations.removeHandler(observer, promise: nil)
        return observer.summary(fallback: fallback)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if serverSide == .inbound, !sniffer.isFinished {
            sniffer.feed(unwrapInboundIn(data).readableBytesView)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if serverSide == .outbound, !sniffer.isFinished {
            sniffer.feed(unwrapOutboundIn(data).readableBytesView)
        }
        context.write(data, promise: promise)
    }
}
