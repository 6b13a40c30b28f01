import PGWire

/// Client connections per database and per user, for PgBouncer's `max_db_client_connections`
/// and `max_user_client_connections`: a client over either limit is refused at login.
///
/// The database is the name the client asked for (not the server's database) and the user is the
/// client's login name, as in PgBouncer. A limit of 0 means unlimited.
public struct ClientConnectionCounts: Sendable {
    public private(set) var perDatabase: [String: Int] = [:]
    public private(set) var perUser: [String: Int] = [:]

    public init() {}

    /// Counts a client in, or says why it is refused (then nothing is counted). An `exempt` client
    /// (an admin user on the admin console, as in PgBouncer) is counted but never refused.
    public mutating func admit(database: String, user: String, maxPerDatabase: Int, maxPerUser: Int,
                               exempt: Bool = false) -> ClientLimitRefusal? {
        if !exempt, maxPerDatabase > 0, perDatabase[database, default: 0] >= maxPerDatabase { return .database }
        if !exempt, maxPerUser > 0, perUser[user, default: 0] >= maxPerUser { return .user }
        perDatabase[database, default: 0] += 1
        perUser[user, default: 0] += 1
        return nil
    }

    /// A client counted by `admit` left.
    public mutating func leave(database: String, user: String) {
        Self.decrement(&perDatabase, database)
        Self.decrement(&perUser, user)
    }

    private static func decrement(_ counts: inout [String: Int], _ key: String) {
        guard let count = counts[key] else { return }
        counts[key] = count > 1 ? count - 1 : nil
    }
}

/// Which client connection limit a refused client hit.
public enum ClientLimitRefusal: Sendable, Equatable {
    case database
    case user

    /// The error the client gets: PgBouncer's message, with PostgreSQL's SQLSTATE for too many
    /// connections (53300) so that clients can tell it from a protocol error.
    public var error: ErrorFields {
        let key = self == .database ? "max_db_client_connections" : "max_user_client_connections"
        return ErrorFields(severity: "FATAL", sqlState: "53300", message: "client connections exceeded (\(key))")
    }
}
