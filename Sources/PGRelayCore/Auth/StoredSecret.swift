/// What an auth_file (or `auth_query`) holds for a user, classified as PostgreSQL and PgBouncer
/// classify `rolpassword`.
///
/// Its description is redacted so that it can never leak into a log line by accident.
public enum StoredSecret: Equatable, Sendable {
    /// A clear-text password.
    case plain(String)
    /// `"md5"` followed by 32 lowercase hex digits: md5(password + user name).
    case md5(String)
    /// A SCRAM-SHA-256 verifier.
    case scram(SCRAMSecret)

    /// Classifies a secret the way PgBouncer's `get_password_type` (and PostgreSQL's) does:
    /// `md5` + 32 lowercase hex digits is an MD5 hash; a string that parses completely as a
    /// SCRAM-SHA-256 secret is SCRAM; anything else, including a malformed `SCRAM-SHA-256$...`
    /// string, is a plain password. So a broken SCRAM secret fails logins as a wrong password
    /// rather than an error, exactly as it does with PgBouncer and PostgreSQL.
    public init(parsing text: String) {
        if Self.isMD5Hash(text) {
            self = .md5(text)
        } else if let secret = SCRAMSecret(parsing: text) {
            self = .scram(secret)
        } else {
            self = .plain(text)
        }
    }

    /// The text form to write back into an auth_file.
    public var formatted: String {
        switch self {
        case .plain(let password): return password
        case .md5(let hash): return hash
        case .scram(let secret): return secret.formatted
        }
    }

    /// Whether an MD5 login can be checked against this secret. When it cannot (a SCRAM secret),
    /// `auth_type = md5` falls back to SCRAM for the user, as PgBouncer and PostgreSQL do.
    public var canVerifyMD5: Bool {
        if case .scram = self { return false }
        return true
    }

    static func isMD5Hash(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 35 && bytes.starts(with: Array("md5".utf8))
            && bytes.dropFirst(3).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

extension StoredSecret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The kind of secret, never its value.
    public var description: String {
        switch self {
        case .plain: return "plain(<redacted>)"
        case .md5: return "md5(<redacted>)"
        case .scram(let secret): return "scram(\(secret))"
        }
    }
    /// Same as `description`.
    public var debugDescription: String { description }
    /// Keeps secrets out of `dump` and debuggers.
    public var customMirror: Mirror { Mirror(self, children: [] as [(String?, Any)]) }
}
