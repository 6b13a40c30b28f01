/// What the proxy logs in to a server with over SCRAM-SHA-256.
///
/// Its description is redacted so that it can never leak into a log line by accident.
public enum SCRAMCredential: Equatable, Sendable {
    /// The clear-text password (from the auth_file, or a per-database `password=`).
    case password(String)
    /// Keys recovered from a client's verified proof (``SCRAMServerExchange/passthroughCredential``),
    /// with the salt and iteration count of the secret they belong to. They work only against a
    /// server that stores the same secret, which ``SCRAMClientExchange`` checks.
    case keys(clientKey: [UInt8], serverKey: [UInt8], salt: [UInt8], iterations: Int)
}

extension SCRAMCredential: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The kind of credential, never its value.
    public var description: String {
        switch self {
        case .password: return "password(<redacted>)"
        case .keys(_, _, _, let iterations): return "keys(<redacted>, iterations: \(iterations))"
        }
    }
    /// Same as `description`.
    public var debugDescription: String { description }
    /// Keeps secrets out of `dump` and debuggers.
    public var customMirror: Mirror { Mirror(self, children: [] as [(String?, Any)]) }
}
