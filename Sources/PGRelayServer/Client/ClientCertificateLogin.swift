import PGRelayCore

extension ClientSession {
    /// `auth_type = cert`: whether the TLS client certificate names the user, who must be known
    /// (`userKnown`, see `CertificateLogin`). If not, the reason is logged (PgBouncer's words), the client gets "certificate
    /// authentication failed" and is being closed. On the client's loop.
    func admittedByCertificate(userKnown: Bool) -> Bool {
        let names = peerCertificate.map { der in Result { try CertificateNames(der: der) } }
        guard let refusal = CertificateLogin.refusal(user: user, known: userKnown, overTLS: isOverTLS, names: names) else { return true }
        logger.error("\(refusal.rawValue)", metadata: ["user": "\(user)", "database": "\(database)", "addr": "\(remoteDescription)"])
        fatal(CertificateLogin.failed)
        return false
    }
}
