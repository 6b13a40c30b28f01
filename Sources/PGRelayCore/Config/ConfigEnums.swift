/// A closed set of spellings accepted by a config key, matched case-insensitively as PgBouncer does.
public protocol ConfigEnum: CaseIterable, Sendable, Hashable {
    /// The spelling written in config files and shown by SHOW CONFIG.
    var configName: String { get }
}

extension ConfigEnum {
    /// The case spelled `name` (any letter case), or `nil`.
    public init?(configName name: String) {
        guard let match = Self.allCases.first(where: { $0.configName.caseInsensitiveCompare(name) }) else { return nil }
        self = match
    }

    /// `a | b | c`, for error messages and docs.
    static var choices: String { allCases.map(\.configName).joined(separator: " | ") }
}

extension String {
    fileprivate func caseInsensitiveCompare(_ other: String) -> Bool {
        lowercased() == other.lowercased()
    }
}

/// When a server connection goes back to the pool.
public enum PoolMode: String, ConfigEnum {
    /// After the client disconnects.
    case session
    /// After each transaction.
    case transaction
    /// After each statement; multi-statement transactions are refused.
    case statement

    public var configName: String { rawValue }
}

/// How clients authenticate to pgrelay.
public enum AuthType: String, ConfigEnum {
    /// No password; the user must still be known (auth_file or auth_query).
    case trust
    /// No password and any user name (databases must force a user), as PgBouncer's `any`.
    case any
    /// Clear-text password.
    case plain
    /// MD5 challenge; users whose secret is SCRAM get SCRAM instead.
    case md5
    /// SCRAM-SHA-256.
    case scramSHA256 = "scram-sha-256"
    /// Unix-socket peer credentials: the OS user must equal the database user.
    case peer
    /// The TLS client certificate names the user (needs `client_tls_sslmode = verify-full`).
    case cert

    public var configName: String { rawValue }

    /// PgBouncer methods pgrelay refuses to start with, rather than silently weakening authentication.
    static let unsupportedPgBouncerMethods: Set<String> = ["hba", "ldap", "pam"]
}

/// TLS negotiation mode, as in PgBouncer's client_tls_sslmode / server_tls_sslmode.
public enum TLSMode: String, ConfigEnum {
    case disable
    case allow
    case prefer
    case require
    case verifyCA = "verify-ca"
    case verifyFull = "verify-full"

    public var configName: String { rawValue }
}

/// How server connections are chosen from a `host=` list.
public enum LoadBalanceHosts: String, ConfigEnum {
    /// Each new connection takes the next host.
    case roundRobin = "round-robin"
    /// Stay on one host until a connection to it fails.
    case disable

    public var configName: String { rawValue }
}

/// Shape of log lines.
public enum LogFormat: String, ConfigEnum {
    case json
    case text

    public var configName: String { rawValue }
}

/// Lowest severity written to the log (swift-log's levels).
public enum LogLevel: String, ConfigEnum {
    case trace
    case debug
    case info
    case notice
    case warning
    case error
    case critical

    public var configName: String { rawValue }
}

/// Which statements are logged (always normalized: literals replaced by `$n`).
public enum LogQueries: String, ConfigEnum {
    case none
    case slow
    case all

    public var configName: String { rawValue }
}
