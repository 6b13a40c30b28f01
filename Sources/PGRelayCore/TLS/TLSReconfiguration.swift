import Crypto

/// What changing TLS settings while running does (console `SET`, `RELOAD`, SIGHUP), decided as
/// PgBouncer's `sbuf_tls_setup` decides it:
/// - a console `SET` of a TLS key changes the setting at once and then rebuilds the TLS setup;
///   when that fails (a key without its certificate, say, while the keys are set one by one),
///   the setting stays changed, the admin gets a notice and the TLS setup in use stays;
/// - the TLS mode in use is the one of the setup in use, not the configured one;
/// - when the server side's setup really changed, the server connections open now are replaced
///   (idle ones at once, lent ones when released), so that none goes on with the old, possibly
///   weaker, settings; a reload that changes nothing keeps them.
public enum TLSReconfiguration {
    /// Whether a console `SET` of `key` rebuilds the TLS setup: as in PgBouncer, a key whose name
    /// has `_tls_` or `_tls13_` in it.
    public static func affectsTLS(key: String) -> Bool {
        let name = key.lowercased()
        return name.contains("_tls_") || name.contains("_tls13_")
    }

    /// The notice a console `SET` gets when the TLS setup cannot be built from the new settings
    /// (PgBouncer's words).
    public static let setupKeptNotice = "TLS settings could not be applied, still using old configuration"

    /// Why server connections opened with replaced TLS settings are closed; PgBouncer's words for
    /// servers of a pool whose configuration changed.
    public static let serverCloseReason = "database configuration changed"

    /// Whether the server connections open now must be replaced: the server side's setup in use
    /// differs from the new one. Nothing in use yet means no server was opened with anything.
    public static func serverConnectionsMustBeReplaced(inUse: TLSSetupFingerprint?, new: TLSSetupFingerprint) -> Bool {
        guard let inUse else { return false }
        return inUse != new
    }
}

/// What a TLS setup does to a connection, as one comparable value: the mode, and when TLS is
/// used at all, the protocol versions and suites it allows and the contents of its certificate,
/// key and CA files (a file rewritten in place is a change; the same settings spelt another way,
/// `secure` for `default`, are not). The contents are kept only as a SHA-256 digest.
public struct TLSSetupFingerprint: Sendable, Hashable {
    public let mode: TLSMode
    private let digest: [UInt8]

    /// - Parameter fileContents: the bytes of the certificate, key and CA files (empty for a file
    ///   not set), in that order; ignored when `settings.mode` is `disable`.
    public init(settings: TLSSideSettings, fileContents: [[UInt8]]) {
        mode = settings.mode
        guard settings.mode != .disable else {
            digest = []
            return
        }
        var hash = SHA256()
        func add(_ bytes: [UInt8]) {
            // Length first, so that no two different lists hash the same bytes.
            withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { hash.update(bufferPointer: $0) }
            hash.update(data: bytes)
        }
        let range = (try? TLSProtocolRange(settings.protocols)).map { "\($0.minimum.name)-\($0.maximum.name)" }
        add(Array((range ?? settings.protocols).utf8))
        add(Array(((try? TLSCipherSelection(settings.ciphers).cipherList) ?? settings.ciphers).utf8))
        for contents in fileContents { add(contents) }
        digest = Array(hash.finalize())
    }
}
