/// Why a login failed, in the terms a PostgreSQL client expects.
///
/// Descriptions never contain passwords, secrets, proofs or keys: they may be sent to the client
/// in an ErrorResponse and written to the log as they are.
public enum AuthError: Error, Equatable, Sendable {
    /// The password (or proof) did not match the stored secret, or the user is unknown.
    /// PostgreSQL deliberately says the same thing in all those cases.
    case wrongPassword(user: String)
    /// A SASL/SCRAM message was malformed or arrived out of order. The detail says what was wrong.
    case protocolViolation(detail: String)
    /// The peer asked for something this implementation does not offer (an authorization
    /// identity, a mandatory SCRAM extension, another mechanism).
    case unsupported(detail: String)
    /// The server answered the SCRAM exchange with `e=<value>` (RFC 5802 server-error).
    case server(String)
    /// The server's final signature did not match: it does not know the secret (or a man in the
    /// middle answered), so the proxy must not trust this connection.
    case serverSignatureMismatch
    /// The proxy tried to log in with keys recovered from a client's SCRAM proof, but the server
    /// stores the password with another salt or iteration count, so those keys cannot work.
    case passthroughKeysMismatch(user: String)

    /// The SQLSTATE to put in the ErrorResponse.
    public var sqlState: String {
        switch self {
        case .wrongPassword: return "28P01"  // invalid_password
        case .protocolViolation: return "08P01"  // protocol_violation
        case .unsupported, .server, .serverSignatureMismatch, .passthroughKeysMismatch:
            return "28000"  // invalid_authorization_specification
        }
    }

    /// The primary message (ErrorResponse field `M`), worded as PostgreSQL and libpq word it.
    public var message: String {
        switch self {
        case .wrongPassword(let user):
            return "password authentication failed for user \"\(user)\""
        case .protocolViolation:
            return "malformed SCRAM message"
        case .unsupported:
            return "unsupported SCRAM authentication request"
        case .server(let value):
            return "SCRAM authentication failed on the server: \(value)"
        case .serverSignatureMismatch:
            return "incorrect server signature in SCRAM exchange"
        case .passthroughKeysMismatch(let user):
            return "cannot log in to the server as user \"\(user)\" with the client's SCRAM keys: "
                + "the server's salt or iteration count differs from the auth_file secret"
        }
    }

    /// The detail (ErrorResponse field `D`), if there is one.
    public var detail: String? {
        switch self {
        case .protocolViolation(let detail), .unsupported(let detail):
            return detail
        case .wrongPassword, .server, .serverSignatureMismatch, .passthroughKeysMismatch:
            return nil
        }
    }
}

extension AuthError: CustomStringConvertible {
    /// The message and, when present, the detail, for logs.
    public var description: String {
        if let detail { return "\(message) (\(detail))" }
        return message
    }
}
