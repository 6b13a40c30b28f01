import NIOConcurrencyHelpers
import NIOSSL
import PGRelayCore

/// The TLS contexts of both sides, built from the configuration once at start and again on each
/// reload: loading certificates per connection would cost a file read and a key parse each time.
/// Connections keep the context they started with, so a reload rotates certificates without
/// dropping anyone.
final class TLSContextStore: @unchecked Sendable {
    /// Both contexts of one configuration.
    struct Contexts {
        /// pgrelay as TLS server, for clients; nil when client TLS is off.
        var client: NIOSSLContext?
        /// pgrelay as TLS client, for PostgreSQL servers; nil when server TLS is off.
        var server: NIOSSLContext?
    }

    private let current = NIOLockedValueBox(Contexts())

    /// The context clients' TLS handshakes use, if client TLS is on.
    var clientContext: NIOSSLContext? { current.withLockedValue { $0.client } }
    /// The context server connections' TLS handshakes use, if server TLS is on.
    var serverContext: NIOSSLContext? { current.withLockedValue { $0.server } }

    /// Builds the contexts for `config` and installs them; on error the previous ones stay.
    func rebuild(from config: Config) throws {
        let contexts = try Self.build(from: config)
        current.withLockedValue { $0 = contexts }
    }

    /// Builds both contexts without installing them (validation, and `rebuild`).
    static func build(from config: Config) throws -> Contexts {
        Contexts(client: try clientSideContext(config), server: try serverSideContext(config))
    }

    /// A configuration error naming the key at fault; file contents never appear in it.
    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    private static func clientSideContext(_ config: Config) throws -> NIOSSLContext? {
        let mode = config.clientTLSSSLMode
        guard mode != .disable else { return nil }
        let hasFiles = !config.clientTLSCertFile.isEmpty && !config.clientTLSKeyFile.isEmpty
        guard hasFiles else {
            if TLSPolicy.requiresTLS(mode) {
                throw SetupError(description: "client_tls_sslmode = \(mode.rawValue) needs client_tls_cert_file and client_tls_key_file")
            }
            // allow/prefer without a certificate: clients are told 'N', as PgBouncer does.
            return nil
        }
        let chain = try load("client_tls_cert_file", config.clientTLSCertFile) {
            try NIOSSLCertificate.fromPEMFile(config.clientTLSCertFile).map { NIOSSLCertificateSource.certificate($0) }
        }
        let key = try load("client_tls_key_file", config.clientTLSKeyFile) {
            try NIOSSLPrivateKey(file: config.clientTLSKeyFile, format: .pem)
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        try restrict(&tls, side: "client_tls", protocols: config.clientTLSProtocols, ciphers: config.clientTLSCiphers)
        tls.applicationProtocols = [TLSPolicy.alpnProtocol]
        if TLSPolicy.verifiesClientCertificates(mode) {
            guard !config.clientTLSCAFile.isEmpty else {
                throw SetupError(description: "client_tls_sslmode = \(mode.rawValue) needs client_tls_ca_file to check client certificates")
            }
            let roots = try load("client_tls_ca_file", config.clientTLSCAFile) {
                try NIOSSLCertificate.fromPEMFile(config.clientTLSCAFile)
            }
            tls.trustRoots = .certificates(roots)
            // Client certificates carry no host name to match: the chain is what is checked.
            tls.certificateVerification = .noHostnameVerification
        }
        return try makeContext(tls, side: "client_tls")
    }

    private static func serverSideContext(_ config: Config) throws -> NIOSSLContext? {
        let mode = config.serverTLSSSLMode
        guard TLSPolicy.sendsSSLRequest(mode) else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        try restrict(&tls, side: "server_tls", protocols: config.serverTLSProtocols, ciphers: config.serverTLSCiphers)
        switch TLSPolicy.serverVerification(mode) {
        case .none: tls.certificateVerification = .none
        case .chain: tls.certificateVerification = .noHostnameVerification
        case .chainAndHostName: tls.certificateVerification = .fullVerification
        }
        if !config.serverTLSCAFile.isEmpty {
            let roots = try load("server_tls_ca_file", config.serverTLSCAFile) {
                try NIOSSLCertificate.fromPEMFile(config.serverTLSCAFile)
            }
            tls.trustRoots = .certificates(roots)
        }
        switch (config.serverTLSCertFile.isEmpty, config.serverTLSKeyFile.isEmpty) {
        case (true, true):
            break
        case (false, false):
            let chain = try load("server_tls_cert_file", config.serverTLSCertFile) {
                try NIOSSLCertificate.fromPEMFile(config.serverTLSCertFile).map { NIOSSLCertificateSource.certificate($0) }
            }
            let key = try load("server_tls_key_file", config.serverTLSKeyFile) {
                try NIOSSLPrivateKey(file: config.serverTLSKeyFile, format: .pem)
            }
            tls.certificateChain = chain
            tls.privateKey = .privateKey(key)
        default:
            throw SetupError(description: "server_tls_cert_file and server_tls_key_file must be set together")
        }
        return try makeContext(tls, side: "server_tls")
    }

    /// Applies `*_tls_protocols` and `*_tls_ciphers`. Both were checked when the config was read;
    /// a value set some other way is still refused here, before it could reach BoringSSL (which
    /// swift-nio-ssl would let stop the process on a cipher string it rejects).
    private static func restrict(_ tls: inout TLSConfiguration, side: String, protocols: String, ciphers: String) throws {
        do {
            let range = try TLSProtocolRange(protocols)
            tls.minimumTLSVersion = range.minimum.nioVersion
            tls.maximumTLSVersion = range.maximum.nioVersion
        } catch {
            throw SetupError(description: "\(side)_protocols: \(error)")
        }
        do {
            tls.cipherSuites = try TLSCipherSelection(ciphers).cipherList
        } catch {
            throw SetupError(description: "\(side)_ciphers: \(error)")
        }
    }

    /// Runs a loader and turns its (BoringSSL-internal) error into one that names key and file.
    private static func load<T>(_ key: String, _ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw SetupError(description: "\(key) \(path): cannot be read as PEM (\(error))")
        }
    }

    private static func makeContext(_ tls: TLSConfiguration, side: String) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw SetupError(description: "\(side): invalid TLS setup (\(error)); does the key match the certificate?")
        }
    }
}

extension TLSProtocolVersion {
    /// The same version in swift-nio-ssl's terms.
    var nioVersion: TLSVersion {
        switch self {
        case .tls1_0: return .tlsv1
        case .tls1_1: return .tlsv11
        case .tls1_2: return .tlsv12
        case .tls1_3: return .tlsv13
        }
    }
}
