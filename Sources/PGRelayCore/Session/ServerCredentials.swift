/// What the proxy knows to log in to PostgreSQL as one user.
public struct ServerCredentials: Sendable, Equatable {
    public var user: String
    /// A cleartext password (from the database entry or a plain auth_file secret).
    public var password: String?
    /// An md5 secret ("md5" + hex) from the auth_file: enough for md5 server authentication.
    public var md5Secret: String?
    /// SCRAM keys recovered from a client's successful SCRAM login against a SCRAM secret:
    /// enough for SCRAM server authentication when the server holds the same secret.
    public var scramKeys: SCRAMCredential?

    public init(user: String, password: String? = nil, md5Secret: String? = nil, scramKeys: SCRAMCredential? = nil) {
        self.user = user
        self.password = password
        self.md5Secret = md5Secret
        self.scramKeys = scramKeys
    }
}
