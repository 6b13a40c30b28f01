/// One side's TLS keys as one value: `client_tls_*` (pgrelay as TLS server, for clients) or
/// `server_tls_*` (pgrelay as TLS client, towards PostgreSQL). A TLS context is built from it,
/// and a reload or console `SET` compares it with what is in use.
public struct TLSSideSettings: Sendable, Hashable {
    /// Which side, named by its keys' prefix.
    public enum Side: String, Sendable {
        case client = "client_tls"
        case server = "server_tls"
    }

    public var side: Side
    public var mode: TLSMode
    public var certFile: String
    public var keyFile: String
    public var caFile: String
    /// `*_tls_protocols` as written (see `TLSProtocolRange`).
    public var protocols: String
    /// `*_tls_ciphers` as written (see `TLSCipherSelection`).
    public var ciphers: String

    public init(side: Side, mode: TLSMode, certFile: String = "", keyFile: String = "", caFile: String = "",
                protocols: String = "secure", ciphers: String = "default") {
        self.side = side
        self.mode = mode
        self.certFile = certFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.protocols = protocols
        self.ciphers = ciphers
    }

    /// The name of one of this side's keys: `key("sslmode")` is `client_tls_sslmode`.
    public func key(_ suffix: String) -> String {
        "\(side.rawValue)_\(suffix)"
    }
}

extension Config {
    /// The `client_tls_*` keys.
    public var clientTLS: TLSSideSettings {
        TLSSideSettings(side: .client, mode: clientTLSSSLMode, certFile: clientTLSCertFile, keyFile: clientTLSKeyFile,
                        caFile: clientTLSCAFile, protocols: clientTLSProtocols, ciphers: clientTLSCiphers)
    }

    /// The `server_tls_*` keys.
    public var serverTLS: TLSSideSettings {
        TLSSideSettings(side: .server, mode: serverTLSSSLMode, certFile: serverTLSCertFile, keyFile: serverTLSKeyFile,
                        caFile: serverTLSCAFile, protocols: serverTLSProtocols, ciphers: serverTLSCiphers)
    }
}
