import NIOSSL
import PGRelayCore

extension ClientSession {
    /// `auth_type = cert`: whether the TLS client certificate names the user, who must be known
    /// (`userKnown`, see `CertificateLogin`). If not, the reason is logged (PgBouncer's words), the client gets "certificate
    /// authentication failed" and is being closed. On the client's loop.
    func admittedByCertificate(userKnown: Bool) -> Bool {
        let tls = try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        let names = tls?.peerCertificate.map { certificate in
            Result { try CertificateNames(der: certificate.toDERBytes()) }
        }
        guard let refusal = CertificateLogin.refusal(user: user, known: userKnown, overTLS: tls != nil, names: names) else { return true }
        logger.error("\(refusal.rawValue)", metadata: ["user": "\(user)", "database": "\(database)", "addr": "\(remoteDescription)"])
        fatal(CertificateLogin.failed)
        return false
    }
}
