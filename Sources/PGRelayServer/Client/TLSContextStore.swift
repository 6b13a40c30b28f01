import Foundation
import NIOConcurrencyHelpers
import NIOSSL
import PGRelayCore

/// The TLS setup of both sides in use, built from the configuration at start, on each reload and
/// after a console `SET` of a TLS key: loading certificates per connection would cost a file read
/// and a key parse each time. Connections keep the context they started with, so a new setup
/// rotates certificates without dropping anyone.
///
/// The mode in use is the setup's, not the configured one: a `SET` whose setup cannot be built
/// changes the setting but not the TLS in use (`TLSReconfiguration`).
final class TLSContextStore: @unchecked Sendable {
    /// One side's setup: PgBouncer's `client_accept_sslmode`/`server_connect_sslmode` with the
    /// context that goes with them.
    struct Side {
        var mode: TLSMode
        /// nil when this side does not use TLS (for clients also: allow/prefer without a certificate).
        var context: NIOSSLContext?
        var fingerprint: TLSSetupFingerprint

        /// TLS off, as before anything was built.
        static func off(_ side: TLSSideSettings.Side) -> Side {
            Side(mode: .disable, context: nil,
                 fingerprint: TLSSetupFingerprint(settings: TLSSideSettings(side: side, mode: .disable), fileContents: []))
        }
    }

    /// Both sides of one configuration.
    struct Contexts {
        var clientSide: Side
        var serverSide: Side
        /// pgrelay as TLS server, for clients; nil when client TLS is off.
        var client: NIOSSLContext? { clientSide.context }
        /// pgrelay as TLS client, for PostgreSQL servers; nil when server TLS is off.
        var server: NIOSSLContext? { serverSide.context }
    }

    /// nil until the first setup is installed at start.
    private let current = NIOLockedValueBox<Contexts?>(nil)

    /// The client side in use: the mode and context one client's negotiation uses.
    var clientSide: Side { current.withLockedValue { $0?.clientSide } ?? .off(.client) }
    /// The server side in use: the mode and context one server connection's negotiation uses.
    var serverSide: Side { current.withLockedValue { $0?.serverSide } ?? .off(.server) }
    /// The context clients' TLS handshakes use, if client TLS is on.
    var clientContext: NIOSSLContext? { clientSide.context }
    /// The context server connections' TLS handshakes use, if server TLS is on.
    var serverContext: NIOSSLContext? { serverSide.context }

    /// Builds the setup for `config` and installs it; on error the previous one stays.
    /// - Returns: whether the server connections open now must be replaced.
    @discardableResult
    func rebuild(from config: Config) throws -> Bool {
        install(try Self.build(from: config))
    }

    /// Puts `contexts` in use for new connections.
    /// - Returns: whether the server connections open now must be replaced (their TLS setup changed).
    @discardableResult
    func install(_ contexts: Contexts) -> Bool {
        let previous = current.withLockedValue { value -> Contexts? in
            defer { value = contexts }
            return value
        }
        return TLSReconfiguration.serverConnectionsMustBeReplaced(inUse: previous?.serverSide.fingerprint,
                                                                  new: contexts.serverSide.fingerprint)
    }

    /// Builds both sides without installing them (validation, and `rebuild`).
    static func build(from config: Config) throws -> Contexts {
        if config.authType == .cert {
            // The certificate that logs the client in must have been checked against the CA.
            guard config.clientTLSSSLMode == .verifyFull else {
                throw SetupError(description: "auth_type = cert needs client_tls_sslmode = verify-full")
            }
        }
        return Contexts(clientSide: try clientSide(config.clientTLS), serverSide: try serverSide(config.serverTLS))
    }

    /// A configuration error naming the key at fault; file contents never appear in it.
    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    private static func clientSide(_ settings: TLSSideSettings) throws -> Side {
        let mode = settings.mode
        guard mode != .disable else { return .off(.client) }
        let hasFiles = !settings.certFile.isEmpty && !settings.keyFile.isEmpty
        guard hasFiles else {
            if TLSPolicy.requiresTLS(mode) {
                throw SetupError(description: "client_tls_sslmode = \(mode.rawValue) needs client_tls_cert_file and client_tls_key_file")
            }
            // allow/prefer without a certificate: clients are told 'N'.
            return Side(mode: mode, context: nil, fingerprint: TLSSetupFingerprint(settings: settings, fileContents: []))
        }
        let files = try SideFiles(settings)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: try files.chain(), privateKey: .privateKey(try files.privateKey()))
        try restrict(&tls, settings)
        tls.applicationProtocols = [TLSPolicy.alpnProtocol]
        if TLSPolicy.verifiesClientCertificates(mode) {
            guard !settings.caFile.isEmpty else {
                throw SetupError(description: "client_tls_sslmode = \(mode.rawValue) needs client_tls_ca_file to check client certificates")
            }
            tls.trustRoots = .certificates(try files.roots())
            // Client certificates carry no host name to match: the chain is what is checked.
            tls.certificateVerification = .noHostnameVerification
        }
        return Side(mode: mode, context: try makeContext(tls, settings), fingerprint: files.fingerprint)
    }

    private static func serverSide(_ settings: TLSSideSettings) throws -> Side {
        let mode = settings.mode
        guard TLSPolicy.sendsSSLRequest(mode) else { return .off(.server) }
        if settings.certFile.isEmpty != settings.keyFile.isEmpty {
            throw SetupError(description: "server_tls_cert_file and server_tls_key_file must be set together")
        }
        let files = try SideFiles(settings)
        var tls = TLSConfiguration.makeClientConfiguration()
        try restrict(&tls, settings)
        switch TLSPolicy.serverVerification(mode) {
        case .none: tls.certificateVerification = .none
        case .chain: tls.certificateVerification = .noHostnameVerification
        case .chainAndHostName: tls.certificateVerification = .fullVerification
        }
        if !settings.caFile.isEmpty {
            tls.trustRoots = .certificates(try files.roots())
        }
        if !settings.certFile.isEmpty {
            tls.certificateChain = try files.chain()
            tls.privateKey = .privateKey(try files.privateKey())
        }
        return Side(mode: mode, context: try makeContext(tls, settings), fingerprint: files.fingerprint)
    }

    /// The certificate, key and CA files of one side, read once: parsed from these bytes, and
    /// fingerprinted from the same bytes (a file rewritten in place is a new setup).
    private struct SideFiles {
        let settings: TLSSideSettings
        let certBytes: [UInt8]
        let keyBytes: [UInt8]
        let caBytes: [UInt8]

        init(_ settings: TLSSideSettings) throws {
            self.settings = settings
            certBytes = try Self.read(settings.key("cert_file"), settings.certFile)
            keyBytes = try Self.read(settings.key("key_file"), settings.keyFile)
            caBytes = try Self.read(settings.key("ca_file"), settings.caFile)
        }

        var fingerprint: TLSSetupFingerprint {
            TLSSetupFingerprint(settings: settings, fileContents: [certBytes, keyBytes, caBytes])
        }

        func chain() throws -> [NIOSSLCertificateSource] {
            try parse("cert_file", settings.certFile) { try NIOSSLCertificate.fromPEMBytes(certBytes).map { .certificate($0) } }
        }

        func privateKey() throws -> NIOSSLPrivateKey {
            try parse("key_file", settings.keyFile) { try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) }
        }

        func roots() throws -> [NIOSSLCertificate] {
            try parse("ca_file", settings.caFile) { try NIOSSLCertificate.fromPEMBytes(caBytes) }
        }

        /// An empty path reads as nothing.
        private static func read(_ key: String, _ path: String) throws -> [UInt8] {
            guard !path.isEmpty else { return [] }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SetupError(description: "\(key) \(path): cannot be read (missing, or not readable by pgrelay)")
            }
            return Array(data)
        }

        /// Runs a parser and turns its (BoringSSL-internal) error into one that names key and file.
        private func parse<T>(_ suffix: String, _ path: String, _ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch {
                throw SetupError(description: "\(settings.key(suffix)) \(path): cannot be read as PEM (\(error))")
            }
        }
    }

    /// Applies `*_tls_protocols` and `*_tls_ciphers`. Both were checked when the config was read;
    /// a value set some other way is still refused here, before it could reach BoringSSL (which
    /// swift-nio-ssl would let stop the process on a cipher string it rejects).
    private static func restrict(_ tls: inout TLSConfiguration, _ settings: TLSSideSettings) throws {
        do {
            let range = try TLSProtocolRange(settings.protocols)
            tls.minimumTLSVersion = range.minimum.nioVersion
            tls.maximumTLSVersion = range.maximum.nioVersion
        } catch {
            throw SetupError(description: "\(settings.key("protocols")): \(error)")
        }
        do {
            tls.cipherSuites = try TLSCipherSelection(settings.ciphers).cipherList
        } catch {
            throw SetupError(description: "\(settings.key("ciphers")): \(error)")
        }
    }

    private static func makeContext(_ tls: TLSConfiguration, _ settings: TLSSideSettings) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw SetupError(description: "\(settings.side.rawValue): invalid TLS setup (\(error)); does the key match the certificate?")
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
