import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOTLS
import PGRelayCore
import PGWire

extension ClientSession {
    /// Answers an SSLRequest: 'S' and the connection handed to TLS, or 'N'. The caller has
    /// already refused bytes pipelined after the request.
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
        var reply = ByteBuffer()
        guard answer == .acceptTLS, let context, let socket = transport as? SocketTransport else {
            reply.writeInteger(UInt8(ascii: "N"))
            transport.writeAndFlush(reply)
            return
        }
        // The 'S' goes out in plaintext, before the socket moves to TLS; everything after passes
        // through TLS.
        reply.writeInteger(UInt8(ascii: "S"))
        transport.writeAndFlush(reply)
        startTLS(on: socket, context: context, firstBytes: nil, direct: false)
    }

    /// PostgreSQL 17's direct TLS (`sslnegotiation=direct`, no SSLRequest): a TCP client whose
    /// first byte starts a TLS handshake record, while client TLS is on. Returns whether the
    /// connection went to TLS with `bytes` (the start of the ClientHello).
    func startsDirectTLS(_ bytes: ByteBuffer) -> Bool {
        guard !isUnixSocket, !isOverTLS, let socket = transport as? SocketTransport,
              let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self), TLSPolicy.isDirectTLS(firstByte: first),
              let context = runtime.tls.clientContext else { return false }
        startTLS(on: socket, context: context, firstBytes: bytes, direct: true)
        return true
    }

    /// Moves the socket to a NIO channel with NIOSSL's server handler (`TLSHandoff`).
    private func startTLS(on socket: SocketTransport, context: NIOSSLContext, firstBytes: ByteBuffer?, direct: Bool) {
        guard let descriptor = socket.detach() else {
            // The 'S' could not be sent at once: the client is not reading.
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "could not start TLS"))
            return
        }
        isOverTLS = true
        let (tls, connected) = TLSHandoff.acceptTLS(descriptor: descriptor, context: context, alpnCheck: direct, firstBytes: firstBytes,
                                                    on: runtime.ioGroup, owner: self)
        transport = tls
        connected.whenFailure { [self] error in
            onLoop { [self] in
                logger.info("client TLS failed", metadata: ["error": "\(error)"])
                clientClosed()
            }
        }
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
