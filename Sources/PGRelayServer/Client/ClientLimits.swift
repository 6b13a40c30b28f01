import NIOConcurrencyHelpers
import PGRelayCore

/// max_db_client_connections and max_user_client_connections across all event loops: a client
/// is counted when it logs in to a database and uncounted when it leaves.
final class ClientLimits: Sendable {
    private let counts = NIOLockedValueBox(ClientConnectionCounts())

    /// Counts in a client that logged in as `user` to `database` (the name it asked for), or says
    /// which limit refuses it. The limits resolve as PgBouncer's: the `[databases]` entry's
    /// and the `[users]` entry's values above 0, else the global keys.
    func admit(database: String, user: String, config: Config) -> ClientLimitRefusal? {
        guard let entry = config.database(named: database) else { return nil }
        let settings = config.poolSettings(database: entry, user: user)
        return counts.withLockedValue {
            $0.admit(database: database, user: user, maxPerDatabase: settings.maxDBClientConnections,
                     maxPerUser: settings.maxUserClientConnections)
        }
    }

    /// The same for a client of the admin console: it counts against the global
    /// max_db_client_connections (for the console database) and its user's
    /// max_user_client_connections; an admin user is counted but never refused (PgBouncer).
    func admitConsole(database: String, user: String, config: Config) -> ClientLimitRefusal? {
        let maxPerUser = config.user(named: user)?.maxUserClientConnections.flatMap { $0 > 0 ? $0 : nil }
            ?? config.maxUserClientConnections
        let exempt = config.adminUsers.contains(user)
        return counts.withLockedValue {
            $0.admit(database: database, user: user, maxPerDatabase: config.maxDBClientConnections, maxPerUser: maxPerUser,
                     exempt: exempt)
        }
    }

    /// Clients counted now per database, for SHOW DATABASES.
    var perDatabase: [String: Int] { counts.withLockedValue { $0.perDatabase } }

    /// Clients counted now per user, for SHOW USERS.
    var perUser: [String: Int] { counts.withLockedValue { $0.perUser } }

    /// A client counted by `admit` left.
    func leave(database: String, user: String) {
        counts.withLockedValue { $0.leave(database: database, user: user) }
    }
}
