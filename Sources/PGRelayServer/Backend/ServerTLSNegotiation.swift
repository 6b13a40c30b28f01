import NIOCore
import NIOSSL
import NIOTLS
import PGRelayCore

/// The SSLRequest exchange with a PostgreSQL server, before the StartupMessage: send the request,
/// read the one-byte answer, run the TLS handshake on 'S'. The outcome is a description of the
/// encryption for SHOW SERVERS ("" when plaintext) or an error that says why the server cannot
/// be used; a mode that requires TLS never falls back to plaintext.
enum ServerTLSNegotiation {
    /// Negotiates on `channel`, which must be connected with nothing sent yet. With `disable`,
    /// over a Unix socket (or without a context), succeeds at once with "".
    static func negotiate(channel: Channel, mode: TLSMode, context: NIOSSLContext?, host: String,
                          overUnixSocket: Bool) -> EventLoopFuture<String> {
        guard TLSPolicy.sendsSSLRequest(mode, overUnixSocket: overUnixSocket), let context else {
            return channel.eventLoop.makeSucceededFuture("")
        }
        let promise = channel.eventLoop.makePromise(of: String.self)
        let handler = ServerTLSNegotiationHandler(mode: mode, context: context, host: host, promise: promise)
        do {
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        } catch {
            promise.fail(error)
            return promise.futureResult
        }
        var request = channel.allocator.buffer(capacity: 8)
        request.writeInteger(Int32(8))
        request.writeInteger(Int32(80_877_103))
        channel.writeAndFlush(request, promise: nil)
        return promise.futureResult
    }

    /// Why the negotiation failed, in words fit for the client waiting for the server.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// "TLSv1.3" and the like, for the `tls` column.
    static func describe(_ version: TLSVersion?) -> String {
        switch version {
        case .tlsv1?: return "TLSv1"
        case .tlsv11?: return "TLSv1.1"
        case .tlsv12?: return "TLSv1.2"
        case .tlsv13?: return "TLSv1.3"
        case nil: return "TLS"
        }
    }

    /// A handshake error in a sentence, with BoringSSL's reason codes in OpenSSL's words
    /// ("certificate verify failed", as PgBouncer's log says it).
    static func describe(handshakeError error: Error) -> String {
        if case NIOSSLError.handshakeFailed(let inner) = error {
            return TLSErrorText.describe("\(inner)")
        }
        return TLSErrorText.describe("\(error)")
    }
}

/// Sits first in a server channel's pipeline until the SSL negotiation is over, then leaves.
final class ServerTLSNegotiationHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let mode: TLSMode
    private let context: NIOSSLContext
    private let host: String
    private let promise: EventLoopPromise<String>
    private var handshaking = false
    private var done = false

    init(mode: TLSMode, context: NIOSSLContext, host: String, promise: EventLoopPromise<String>) {
        self.mode = mode
        self.context = context
        self.host = host
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else {
            context.fireChannelRead(data)
            return
        }
        var buffer = unwrapInboundIn(data)
        if handshaking {
            // The TLS handler sits in front of us; it only passes decrypted data, and the server
            // speaks only after our StartupMessage.
            finish(context: context, .failure(ServerTLSNegotiation.Failure(description: "server sent data before the StartupMessage")))
            return
        }
        guard let answer = buffer.readInteger(as: UInt8.self) else { return }
        switch TLSPolicy.action(forServerAnswer: answer, mode: mode) {
        case .startTLS:
            // Bytes after 'S' were not encrypted: a man in the middle could have injected them
            // (CVE-2021-23222); refuse rather than read them as the server's.
            guard buffer.readableBytes == 0 else {
                finish(context: context, .failure(ServerTLSNegotiation.Failure(description: "server sent unencrypted data after accepting SSL")))
                return
            }
            startHandshake(context: context)
        case .continuePlaintext:
            finish(context: context, .success(""))
        case .fail(let reason):
            finish(context: context, .failure(ServerTLSNegotiation.Failure(description: reason)))
        }
    }

    private func startHandshake(context: ChannelHandlerContext) {
        do {
            // SNI and host name checks need a DNS name; for an IP address NIOSSL checks the
            // certificate's IP SANs against the peer address instead.
            let hostName = Self.isIPAddress(host) ? nil : host
            let tls = try NIOSSLClientHandler(context: self.context, serverHostname: hostName)
            handshaking = true
            try context.pipeline.syncOperations.addHandler(tls, position: .before(self))
            try context.pipeline.syncOperations.addHandler(TLSHandshakeObserver(serverBytesAre: .inbound), position: .before(tls))
        } catch {
            finish(context: context, .failure(ServerTLSNegotiation.Failure(description: "cannot start TLS: \(error)")))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if !done, let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            let version = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).tlsVersion
            finish(context: context, .success(TLSHandshakeObserver.takeSummary(
                from: context.pipeline, fallback: ServerTLSNegotiation.describe(version))))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard !done else {
            context.fireErrorCaught(error)
            return
        }
        let reason = handshaking
            ? "TLS handshake with the server failed: \(ServerTLSNegotiation.describe(handshakeError: error))"
            : "SSL negotiation with the server failed: \(error)"
        finish(context: context, .failure(ServerTLSNegotiation.Failure(description: reason)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            finish(context: context, .failure(ServerTLSNegotiation.Failure(description: "server closed the connection during the SSL negotiation")))
        }
        context.fireChannelInactive()
    }

    private func finish(context: ChannelHandlerContext, _ result: Result<String, Error>) {
        guard !done else { return }
        done = true
        if case .success = result {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        promise.completeWith(result)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
