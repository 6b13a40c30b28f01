import NIOCore
import NIOHTTP1

/// Serves admin requests on one HTTP/1.1 connection (after NIO's HTTP server pipeline, which
/// decodes requests, orders pipelined responses and answers malformed requests with 400).
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Request bodies beyond this get 413 and the connection closes: no endpoint takes a body.
    static let maxBodyBytes = 64 * 1024
    /// After a 413, how long the rest of the body may take before the connection is cut anyway.
    static let rejectedDrainTimeout = TimeAmount.seconds(5)

    private enum State {
        case idle
        case receiving(HTTPRequestHead, bodyBytes: Int)
        /// The body was too large; the rest of the request is ignored until the connection closes.
        case rejected
        case responding
    }

    private let responder: AdminResponder
    private var state = State.idle

    init(responder: AdminResponder) {
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case let (.head(head), .idle):
            state = .receiving(head, bodyBytes: 0)
        case let (.body(chunk), .receiving(head, bodyBytes)):
            let total = bodyBytes + chunk.readableBytes
            if total > Self.maxBodyBytes {
                reject(head, context: context)
            } else {
                state = .receiving(head, bodyBytes: total)
            }
        case let (.end, .receiving(head, _)):
            state = .responding
            handle(head, context: context)
        case (.end, .rejected):
            // Closing only once the body is drained keeps the kernel from answering the unread
            // rest with a reset, which could destroy the 413 before the client reads it.
            context.close(promise: nil)
        case (_, .rejected):
            break
        default:
            // NIO's pipeline handler holds back the next request until this response ended, so
            // anything else is a protocol slip: answer it and drop the connection.
            state = .rejected
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
            write(.error(.badRequest, "unexpected request part"), for: head, keepAlive: false, context: context)
        }
    }

    /// Parser errors were already answered with 400 by NIO's error handler; any error ends the
    /// connection (nothing else in the pipeline would close it).
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, case .idle = state {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func reject(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .rejected
        let response = AdminResponse.error(.payloadTooLarge, "request body too large",
                                           extra: [("limit_bytes", .int(Int64(Self.maxBodyBytes)))])
        write(response, for: head, keepAlive: false, closeWhenWritten: false, context: context)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: Self.rejectedDrainTimeout) { channel.close(promise: nil) }
    }

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let keepAlive = head.isKeepAlive
        switch AdminRouter.route(method: head.method, uri: head.uri) {
        case let .failure(error):
            write(.routeError(error), for: head, keepAlive: keepAlive, context: context)
        case let .success(endpoint):
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            let boundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
            responder.respond(to: endpoint, on: context.eventLoop).whenComplete { result in
                let response: AdminResponse
                switch result {
                case let .success(value): response = value
                case let .failure(error): response = .error(.internalServerError, String(describing: error))
                }
                boundSelf.value.write(response, for: head, keepAlive: keepAlive, context: boundContext.value)
            }
        }
    }

    private func write(_ response: AdminResponse, for head: HTTPRequestHead, keepAlive: Bool,
                       closeWhenWritten: Bool = true, context: ChannelHandlerContext) {
        var body = response.body
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        for (name, value) in response.extraHeaders { headers.add(name: name, value: value) }
        if body.count > ContentNegotiation.gzipMinimumBytes {
            headers.add(name: "Vary", value: "Accept-Encoding")
            if ContentNegotiation.acceptsGzip(head.headers["Accept-Encoding"]), let compressed = Gzip.compress(body) {
                body = compressed
                headers.add(name: "Content-Encoding", value: "gzip")
            }
        }
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let responseHead = HTTPResponseHead(version: head.version, status: response.status, headers: headers)

        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let written = context.writeAndFlushWithPromise(wrapOutboundOut(.end(nil)))
        if keepAlive {
            if case .responding = state { state = .idle }
        } else if closeWhenWritten {
            written.whenComplete { _ in context.close(promise: nil) }
        }
    }
}

private extension ChannelHandlerContext {
    func writeAndFlushWithPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
