/// What the proxy knows to log in to PostgreSQL as one user.
public struct ServerCredentials: Sendable {
    public var user: String
    /// A cleartext password (from the database entry or a plain auth_file secret).
    public var password: String?
    /// An md5 secret ("md5" + hex) from the auth_file: enough for md5 server authentication.
    public var md5Secret: String?
    /// SCRAM keys recovered from a client's successful SCRAM login against a SCRAM secret:
    /// enough for SCRAM server authentication when the server holds the same secret.
    public var scramKeys: SCRAMKeys?

    public struct SCRAMKeys: Sendable, Equatable {
        public var clientKey: [UInt8]
        public var serverKey: [UInt8]
        public init(clientKey: [UInt8], serverKey: [UInt8]) {
            self.clientKey = clientKey
            self.serverKey = serverKey
        }
    }

    public init(user: String, password: String? = nil, md5Secret: String? = nil, scramKeys: SCRAMKeys? = nil) {
        self.user = user
        self.password = password
        self.md5Secret = md5Secret
        self.scramKeys = scramKeys
    }
}
