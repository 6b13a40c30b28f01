import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOTLS
import PGRelayCore
import PGWire

extension ClientSession {
    /// Whether the client's bytes arrive through TLS. On the client's loop only.
    var isOverTLS: Bool {
        (try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)) != nil
    }

    /// Answers an SSLRequest: 'S' and the TLS handler in front of the session, or 'N'. The caller
    /// has already refused bytes pipelined after the request.
    func answerSSLRequest() throws {
        if isOverTLS {
            throw WireError.malformed(type: nil, reason: "SSL request on an encrypted connection")
        }
        // The setup in use, not the configured mode: a console SET whose setup could not be built
        // changed only the setting.
        let tls = runtime.tls.clientSide
        let context = tls.context
        let answer = TLSPolicy.answer(toSSLRequestWith: tls.mode, certificateLoaded: context != nil,
                                      isUnixSocket: isUnixSocket)
        var reply = channel.allocator.buffer(capacity: 1)
        guard answer == .acceptTLS, let context else {
            reply.writeInteger(UInt8(ascii: "N"))
            channel.writeAndFlush(reply, promise: nil)
            return
        }
        reply.writeInteger(UInt8(ascii: "S"))
        // The 'S' is written (or queued at the socket) before the TLS handler exists, so it goes
        // out in plaintext; everything after passes through TLS.
        channel.writeAndFlush(reply, promise: nil)
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context), position: .first)
        try channel.pipeline.syncOperations.addHandler(TLSHandshakeObserver(serverBytesAre: .outbound), position: .first)
    }

    /// Whether the StartupMessage may proceed; if not, the client got 28000 "SSL required" and is
    /// being closed.
    func startupAllowedByTLS() -> Bool {
        let mode = runtime.tls.clientSide.mode
        if TLSPolicy.acceptsStartup(mode: mode, overTLS: isOverTLS, isUnixSocket: isUnixSocket) { return true }
        logger.info("plaintext client refused", metadata: ["client_tls_sslmode": "\(mode.rawValue)"])
        fatal(ErrorFields(severity: "FATAL", sqlState: "28000", message: "SSL required"))
        return false
    }

    /// The handshake finished: remember version, cipher and group for the admin views.
    func tlsHandshakeCompleted() {
        let version = try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).tlsVersion
        tlsDescription = TLSHandshakeObserver.takeSummary(from: channel.pipeline, fallback: ServerTLSNegotiation.describe(version))
    }
}

/// First in a TCP client's pipeline when client TLS is on: looks at the first byte once. A TLS
/// handshake record there is PostgreSQL 17's direct TLS (`sslnegotiation=direct`, no SSLRequest):
/// the TLS handler goes in before the bytes are passed on. Either way the detector then leaves.
final class ClientDirectTLSDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let context: NIOSSLContext

    init(context: NIOSSLContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), TLSPolicy.isDirectTLS(firstByte: first) {
            do {
                let tls = NIOSSLServerHandler(context: self.context)
                try context.pipeline.syncOperations.addHandler(tls, position: .after(self))
                try context.pipeline.syncOperations.addHandler(TLSHandshakeObserver(serverBytesAre: .outbound), position: .after(self))
                try context.pipeline.syncOperations.addHandler(DirectTLSALPNCheck(), position: .after(tls))
            } catch {
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Direct TLS is only PostgreSQL's if the client said so with ALPN "postgresql" (as PostgreSQL 17
/// demands, so that a TLS connection meant for another protocol is not misread).
final class DirectTLSALPNCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event {
            guard negotiated == TLSPolicy.alpnProtocol else {
                var error = context.channel.allocator.buffer(capacity: 128)
                error.writeErrorResponse(ErrorFields(severity: "FATAL", sqlState: "08P01",
                                                     message: "direct SSL connection without ALPN protocol \"postgresql\""))
                context.writeAndFlush(wrapOutboundOut(error)).whenComplete { _ in context.close(promise: nil) }
                return
            }
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
