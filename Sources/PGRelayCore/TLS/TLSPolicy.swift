/// The decisions TLS negotiation makes, for both sides of the proxy, as pure functions of the
/// configured `TLSMode` and what the peer did. The NIO handlers only carry them out.
public enum TLSPolicy {
    // MARK: client side (pgrelay is the TLS server)

    /// What to answer to a client's SSLRequest.
    public enum SSLRequestAnswer: Equatable, Sendable {
        /// Answer 'S' and start the TLS handshake.
        case acceptTLS
        /// Answer 'N': the client continues in plaintext (or gives up, if it insists on TLS).
        case refuseTLS
    }

    /// The answer to an SSLRequest. TLS needs both a mode other than `disable` and a loaded server
    /// certificate; Unix sockets never use TLS (as PostgreSQL and PgBouncer).
    public static func answer(toSSLRequestWith mode: TLSMode, certificateLoaded: Bool, isUnixSocket: Bool) -> SSLRequestAnswer {
        guard mode != .disable, certificateLoaded, !isUnixSocket else { return .refuseTLS }
        return .acceptTLS
    }

    /// Whether a StartupMessage may be accepted. Under `require` and the verify modes a TCP client
    /// must have completed TLS first; the caller answers 28000 "SSL required" otherwise.
    public static func acceptsStartup(mode: TLSMode, overTLS: Bool, isUnixSocket: Bool) -> Bool {
        if overTLS || isUnixSocket { return true }
        return !requiresTLS(mode)
    }

    /// Whether `mode` forbids plaintext.
    public static func requiresTLS(_ mode: TLSMode) -> Bool {
        switch mode {
        case .require, .verifyCA, .verifyFull: return true
        case .disable, .allow, .prefer: return false
        }
    }

    /// The first byte of a TLS handshake record. A StartupMessage begins with its 4-byte length,
    /// which would have to exceed 352 MB to start with this byte, so the two cannot be confused.
    public static let tlsHandshakeRecordType: UInt8 = 0x16

    /// The ALPN protocol name PostgreSQL 17 requires for direct TLS (`sslnegotiation=direct`).
    public static let alpnProtocol = "postgresql"

    /// Whether the first byte a client sent starts a TLS handshake without an SSLRequest.
    public static func isDirectTLS(firstByte: UInt8) -> Bool {
        firstByte == tlsHandshakeRecordType
    }

    // MARK: server side (pgrelay is the TLS client)

    /// Whether a server side in `mode` uses TLS at all (has a context to negotiate with).
    public static func sendsSSLRequest(_ mode: TLSMode) -> Bool {
        mode != .disable
    }

    /// Whether to send an SSLRequest before the StartupMessage on one connection. Never over a
    /// Unix socket: PostgreSQL has no TLS there, and libpq and PgBouncer do not ask, whatever the
    /// mode (require would otherwise make every Unix-socket server unusable).
    public static func sendsSSLRequest(_ mode: TLSMode, overUnixSocket: Bool) -> Bool {
        sendsSSLRequest(mode) && !overUnixSocket
    }

    /// What to do after the server answered an SSLRequest.
    public enum ServerAnswerAction: Equatable, Sendable {
        /// Start the TLS handshake.
        case startTLS
        /// Continue in plaintext (the mode allows it).
        case continuePlaintext
        /// Give up on this server with this message; never a silent downgrade.
        case fail(String)
    }

    /// The action for the server's one-byte answer to an SSLRequest.
    public static func action(forServerAnswer byte: UInt8, mode: TLSMode) -> ServerAnswerAction {
        switch byte {
        case UInt8(ascii: "S"):
            return .startTLS
        case UInt8(ascii: "N"):
            if requiresTLS(mode) {
                return .fail("server does not support SSL, but server_tls_sslmode = \(mode.rawValue) requires it")
            }
            return .continuePlaintext
        case UInt8(ascii: "E"):
            // A server older than the SSLRequest protocol answers with an ErrorResponse.
            return .fail("server answered the SSL request with an error")
        default:
            return .fail("server sent an invalid answer to the SSL request")
        }
    }

    /// How the server's certificate is checked.
    public enum ServerVerification: Equatable, Sendable {
        /// Encryption only: any certificate (require, prefer, allow).
        case none
        /// The chain must lead to a trusted CA (verify-ca).
        case chain
        /// The chain, and the host name (or IP address) must match the certificate (verify-full).
        case chainAndHostName
    }

    /// The certificate checks for `mode`, as libpq's sslmode.
    public static func serverVerification(_ mode: TLSMode) -> ServerVerification {
        switch mode {
        case .verifyFull: return .chainAndHostName
        case .verifyCA: return .chain
        case .disable, .allow, .prefer, .require: return .none
        }
    }

    /// Whether client certificates are requested and checked (PgBouncer: verify-ca and
    /// verify-full both demand a certificate signed by client_tls_ca_file).
    public static func verifiesClientCertificates(_ mode: TLSMode) -> Bool {
        mode == .verifyCA || mode == .verifyFull
    }
}
