extension Config {
    /// An `auth_dbname` (global, or of the `[databases]` entry `database`) that logins needing
    /// auth_query cannot use.
    public struct AuthDatabaseWarning: Sendable, Equatable {
        /// The entry whose `auth_dbname=` it is; nil for the global key.
        public var database: String?
        public var message: String
    }

    /// auth_dbname values that name no database (and no `*` entry serves them) or the console:
    /// PgBouncer accepts them and refuses the logins that need them ("bouncer config error"), so
    /// pgrelay does the same, and says so at load time (and in `--check`). The global key naming
    /// the console is an error instead (`ConfigKeys`), as in PgBouncer.
    public func authDatabaseWarnings() -> [AuthDatabaseWarning] {
        var warnings: [AuthDatabaseWarning] = []
        if let authDbname, !ReservedDatabaseNames.contains(authDbname), database(named: authDbname) == nil {
            warnings.append(AuthDatabaseWarning(database: nil, message: Self.unusableAuthDatabase(authDbname)))
        }
        for entry in databases {
            guard let name = entry.authDbname else { continue }
            if ReservedDatabaseNames.contains(name) {
                warnings.append(AuthDatabaseWarning(
                    database: entry.name,
                    message: "auth_dbname=\(name) names the admin console: logins that need auth_query here will be refused"))
            } else if database(named: name) == nil {
                warnings.append(AuthDatabaseWarning(database: entry.name, message: Self.unusableAuthDatabase(name)))
            }
        }
        return warnings
    }

    private static func unusableAuthDatabase(_ name: String) -> String {
        "auth_dbname \"\(name)\" is not in [databases] and there is no \"*\" entry: logins that need auth_query will be refused"
    }
}
