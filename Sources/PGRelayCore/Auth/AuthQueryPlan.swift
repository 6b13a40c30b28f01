import PGWire

/// Where and how `auth_query` runs for one client login, decided as PgBouncer decides it
/// (client.c `set_pool`, `prepare_auth_database`):
///
/// - auth_user: the client's database entry's `auth_user=`, else the global `auth_user`; the
///   console (which has no entry) only has the global one;
/// - query: the entry's `auth_query=`, else the global `auth_query`;
/// - where: the database named by the entry's `auth_dbname=`, else the global `auth_dbname`,
///   else the client's own database. A name without an entry of its own is served by the `*`
///   entry when there is one (PgBouncer registers it as an auto-database).
public struct AuthQueryPlan: Sendable, Equatable {
    public var authUser: String
    public var query: String
    /// The `[databases]` entry whose primary answers the query.
    public var entry: DatabaseConfig

    public init(authUser: String, query: String, entry: DatabaseConfig) {
        self.authUser = authUser
        self.query = query
        self.entry = entry
    }

    public enum Resolution: Sendable, Equatable {
        /// No auth_user applies, or the client's database is not configured: the user is unknown.
        case none
        case run(AuthQueryPlan)
        /// The authentication database cannot be used: the login is refused.
        case refuse(LoginRefusal)
    }

    /// - Parameters:
    ///   - database: the database the client asked for (a console name for the admin console).
    ///   - isDisabled: whether DISABLE is in effect for a database name.
    public static func resolve(config: Config, database: String, isDisabled: (String) -> Bool = { _ in false }) -> Resolution {
        let isConsole = ReservedDatabaseNames.contains(database)
        let clientEntry = config.database(named: database)
        guard isConsole || clientEntry != nil else { return .none }
        guard let authUser = clientEntry?.authUser ?? config.authUser, !authUser.isEmpty else { return .none }
        let query = clientEntry?.authQuery ?? config.authQuery
        guard let authDatabase = clientEntry?.authDbname ?? config.authDbname else {
            if isConsole { return .refuse(.reservedAuthDatabase(database)) }
            return .run(AuthQueryPlan(authUser: authUser, query: query, entry: clientEntry!))
        }
        if ReservedDatabaseNames.contains(authDatabase) { return .refuse(.reservedAuthDatabase(authDatabase)) }
        guard let entry = config.database(named: authDatabase) else { return .refuse(.authDatabaseNotConfigured(authDatabase)) }
        if isDisabled(authDatabase) { return .refuse(.authDatabaseDisabled(authDatabase)) }
        return .run(AuthQueryPlan(authUser: authUser, query: query, entry: entry))
    }

    /// What a result of auth_query says of the user: no row is `notFound`; one row of two columns
    /// (name, secret) is `queried`, with no secret when the second is NULL or empty (an expired or
    /// password-less role, as the default auth_query returns them). Any other shape is a
    /// configuration error: the query does not answer the question it is asked.
    public static func lookup(in result: QueryResult) -> Result<UserLookup, LoginRefusal> {
        if !result.columns.isEmpty, result.columns.count != 2 {
            return .failure(.configError(log: "auth_query must return 2 columns (user name, secret), not \(result.columns.count)"))
        }
        guard let row = result.rows.first else { return .success(.notFound) }
        guard result.rows.count == 1 else {
            return .failure(.configError(log: "auth_query returned \(result.rows.count) rows for one user name"))
        }
        guard row.count == 2 else {
            return .failure(.configError(log: "auth_query must return 2 columns (user name, secret), not \(row.count)"))
        }
        guard row[0] != nil else { return .failure(.configError(log: "auth_query returned a NULL user name")) }
        guard let text = row[1], !text.isEmpty else { return .success(.queried(nil)) }
        return .success(.queried(StoredSecret(parsing: text)))
    }
}

/// A login refused before any password exchange: what the client is told, and the line the log
/// gets (PgBouncer's wording, which operators grep for). Neither holds a secret.
public struct LoginRefusal: Error, Sendable, Equatable {
    public var error: ErrorFields
    /// Logged as an error before the client is closed; nil when the client's message says it all.
    public var log: String?

    public init(error: ErrorFields, log: String?) {
        self.error = error
        self.log = log
    }

    /// PgBouncer's answer to a login its configuration cannot serve; the reason is in the log.
    public static func configError(log: String) -> LoginRefusal {
        LoginRefusal(error: ErrorFields(severity: "FATAL", sqlState: "28000", message: "bouncer config error"), log: log)
    }

    static func authDatabaseNotConfigured(_ name: String) -> LoginRefusal {
        configError(log: "authentication database \"\(name)\" is not configured.")
    }

    static func reservedAuthDatabase(_ name: String) -> LoginRefusal {
        configError(log: "cannot use the reserved \"\(name)\" database as an auth_dbname")
    }

    static func authDatabaseDisabled(_ name: String) -> LoginRefusal {
        LoginRefusal(error: ErrorFields(severity: "FATAL", sqlState: "28000", message: "authentication database \"\(name)\" is disabled"),
                     log: nil)
    }
}
