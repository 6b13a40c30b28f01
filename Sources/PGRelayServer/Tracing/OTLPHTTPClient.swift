import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PGRelayCore

/// The smallest HTTP/1.1 client that OTLP/HTTP export needs: POST a JSON body to one URL over a
/// kept-alive connection (TLS for https), one request at a time. Runs on the exporter's own
/// event loop; a failed or closed connection is opened again for the next request.
final class OTLPHTTPClient: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let loop: EventLoop
    private var channel: Channel?
    private var connectedTo: OTLPEndpoint?
    private var handler: ResponseHandler?
    private var tlsContext: NIOSSLContext?

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Sends the body and completes with the response's status code. Call on `loop`.
    func post(_ body: ByteBuffer, to endpoint: OTLPEndpoint, timeout: TimeAmount) -> EventLoopFuture<Int> {
        loop.assertInEventLoop()
        return connection(to: endpoint).flatMap { [self] channel, handler in
            let promise = loop.makePromise(of: Int.self)
            handler.pending = promise
            let timer = loop.scheduleTask(in: timeout) { [self] in
                promise.fail(Failure(description: "no answer within \(timeout.nanoseconds / 1_000_000_000) s"))
                close()
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.path)
            head.headers.add(name: "Host", value: endpoint.port == (endpoint.usesTLS ? 443 : 80) ? endpoint.host : "\(endpoint.host):\(endpoint.port)")
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.readableBytes))
            head.headers.add(name: "User-Agent", value: PGRelayVersion.line)
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { promise.fail($0) }
            return promise.futureResult
        }
    }

    func close() {
        channel?.close(promise: nil)
        channel = nil
        handler = nil
    }

    private func connection(to endpoint: OTLPEndpoint) -> EventLoopFuture<(Channel, ResponseHandler)> {
        if let channel, let handler, channel.isActive, connectedTo == endpoint, !handler.closeAfterResponse {
            return loop.makeSucceededFuture((channel, handler))
        }
        close()
        let handler = ResponseHandler()
        let tls: NIOSSLContext?
        do {
            tls = endpoint.usesTLS ? try tlsContextForExport() : nil
        } catch {
            return loop.makeFailedFuture(error)
        }
        return ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // No SNI for an address, only for a name.
                        let isAddress = endpoint.host.contains(":") || endpoint.host.allSatisfy { $0.isNumber || $0 == "." }
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : endpoint.host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .map { [self] channel in
                self.channel = channel
                self.handler = handler
                connectedTo = endpoint
                return (channel, handler)
            }
    }

    private func tlsContextForExport() throws -> NIOSSLContext {
        if let tlsContext { return tlsContext }
        let context = try NIOSSLContext(configuration: .makeClientConfiguration())
        tlsContext = context
        return context
    }

    /// Completes the pending request with the status once its response has been read whole.
    final class ResponseHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart

        var pending: EventLoopPromise<Int>?
        private var status = 0
        private(set) var closeAfterResponse = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = Int(head.status.code)
                closeAfterResponse = !head.isKeepAlive
            case .body:
                break
            case .end:
                let promise = pending
                pending = nil
                promise?.succeed(status)
                if closeAfterResponse { context.close(promise: nil) }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            fail(Failure(description: "\(error)"))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(Failure(description: "connection closed"))
            context.fireChannelInactive()
        }

        private func fail(_ error: Error) {
            let promise = pending
            pending = nil
            promise?.fail(error)
        }
    }
}
