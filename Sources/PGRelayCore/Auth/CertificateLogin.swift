import PGWire

/// `auth_type = cert`: a client logs in with the TLS client certificate it presented, as in
/// PgBouncer and PostgreSQL. `client_tls_sslmode = verify-full` (required with this method) has
/// already checked that the certificate chains to `client_tls_ca_file`; this decides whether it
/// names the user.
///
/// The names looked at are PgBouncer's: the subjectAltName DNS names when the certificate has
/// any, its common name otherwise. They must equal the user name exactly; PgBouncer compares
/// them as host names (any letter case, `*.` wildcards), which would let a certificate for
/// `*.example.com` log in as every user with a dotted name, so pgrelay does not.
public enum CertificateLogin {
    /// Why a certificate login is refused, in PgBouncer's log words.
    public enum Refusal: String, Sendable, Equatable {
        case notOverTLS = "TLS connection required"
        case noCertificate = "TLS client certificate required"
        /// Neither in the auth_file nor found by auth_query (PgBouncer's mock authentication).
        case unknownUser = "no such user"
        case unreadableCertificate = "TLS client certificate could not be read"
        case nameMismatch = "TLS certificate name mismatch"
    }

    /// What the client gets on any refusal (PgBouncer's words).
    public static let failed = ErrorFields(severity: "FATAL", sqlState: "28000", message: "certificate authentication failed")

    /// nil when `names` (of the certificate the client presented over TLS) name `user`, a user
    /// pgrelay knows. Checked in PgBouncer's order (TLS, a certificate, a known user, the name).
    /// - Parameters:
    ///   - known: the user is in the auth_file or was found by auth_query (``UserLookup/isKnown``).
    ///   - names: nil without a certificate; a failure when it could not be read.
    public static func refusal(user: String, known: Bool, overTLS: Bool, names: Result<CertificateNames, Error>?) -> Refusal? {
        guard overTLS else { return .notOverTLS }
        guard let names else { return .noCertificate }
        guard known else { return .unknownUser }
        guard case .success(let certificate) = names else { return .unreadableCertificate }
        let candidates = certificate.dnsNames.isEmpty ? certificate.commonNames : certificate.dnsNames
        return candidates.contains(user) ? nil : .nameMismatch
    }
}
