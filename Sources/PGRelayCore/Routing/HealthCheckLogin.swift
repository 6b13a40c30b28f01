/// Who the replica health checks of one database entry log in as, and with what.
///
/// The candidates, in order:
///
/// 1. `health_check_user`, when set (then the only candidate);
/// 2. the entry's `user=` (the user its pools log in as);
/// 3. the auth_user that applies to the entry (its `auth_user=`, else the global one);
/// 4. the auth_file's users: those with a plain password, then those with a SCRAM secret whose
///    keys a client's login has recovered, then those with an md5 secret (enough for md5
///    authentication only); each group by name, so that the choice is stable across reloads.
///
/// A named candidate (1 to 3) logs in with the entry's `password=` (when it is the entry's user),
/// else its auth_file secret: a plain password, an md5 secret (md5 authentication), or, for a
/// SCRAM secret, the keys recovered from a client's SCRAM login of that user (the way the pools
/// log in without a clear-text password). Without any secret it logs in with none, which a server
/// that trusts it (or checks peer credentials on a Unix socket) accepts. A SCRAM secret whose
/// keys are not known yet passes to the next candidate.
public enum HealthCheckLogin {
    public enum Plan: Equatable, Sendable {
        /// Log in with these credentials.
        case login(ServerCredentials)
        /// Only SCRAM secrets are known, and no client of these users has logged in with SCRAM
        /// yet: the checks can log in once one has (the first named candidate comes first).
        case awaitingSCRAMLogin(users: [String])
        /// Nobody to log in as: the backends can never be checked.
        case impossible

        /// Why the checks cannot log in (for /health, the log and `--check`); nil for `.login`.
        public var problem: String? {
            switch self {
            case .login: return nil
            case .awaitingSCRAMLogin(let users):
                let names = users.prefix(3).map { "\"\($0)\"" }.joined(separator: ", ") + (users.count > 3 ? ", ..." : "")
                return "health checks log in with the SCRAM keys of a client's login, and no client of \(names) has logged in "
                    + "with SCRAM yet (or set health_check_user to a user with a plain or md5 secret, or one the server trusts)"
            case .impossible:
                return "no user to log in as for health checks: set health_check_user, or user= and password= on the database, "
                    + "or give the auth_file a user with a password"
            }
        }
    }

    /// - Parameter scramKeys: the keys a client's SCRAM login recovered for a user, if any.
    public static func plan(for entry: DatabaseConfig, config: Config, secrets: [String: StoredSecret],
                            scramKeys: (String) -> SCRAMCredential? = { _ in nil }) -> Plan {
        var awaiting: [String] = []
        func named(_ user: String) -> ServerCredentials? {
            if let password = entry.password, entry.user == user { return ServerCredentials(user: user, password: password) }
            switch secrets[user] {
            case .plain(let password)?: return ServerCredentials(user: user, password: password)
            case .md5(let hash)?: return ServerCredentials(user: user, md5Secret: hash)
            case .scram?:
                if let keys = scramKeys(user) { return ServerCredentials(user: user, scramKeys: keys) }
                if !awaiting.contains(user) { awaiting.append(user) }
                return nil
            case nil: return ServerCredentials(user: user)
            }
        }
        if let user = config.healthCheckUser, !user.isEmpty {
            return named(user).map(Plan.login) ?? .awaitingSCRAMLogin(users: awaiting)
        }
        for user in [entry.user, entry.authUser ?? config.authUser].compactMap({ $0 }) where !user.isEmpty {
            if let credentials = named(user) { return .login(credentials) }
        }
        let names = secrets.keys.sorted()
        for name in names { if case .plain(let password)? = secrets[name] { return .login(ServerCredentials(user: name, password: password)) } }
        for name in names {
            guard case .scram? = secrets[name] else { continue }
            if let keys = scramKeys(name) { return .login(ServerCredentials(user: name, scramKeys: keys)) }
            if !awaiting.contains(name) { awaiting.append(name) }
        }
        for name in names { if case .md5(let hash)? = secrets[name] { return .login(ServerCredentials(user: name, md5Secret: hash)) } }
        return awaiting.isEmpty ? .impossible : .awaitingSCRAMLogin(users: awaiting)
    }

    /// The databases whose replicas the checks cannot log in to before any client has logged in
    /// (read/write splitting on): said at start, on reload and by `--check`, since their reads go
    /// to the primary until the checks pass, and for ever when nobody can log in.
    /// A `hosts=` database is named whatever read_write_split says: without checks its writes
    /// have no primary.
    public static func startupWarnings(config: Config, secrets: [String: StoredSecret]) -> [String] {
        config.databases.filter { $0.discoversPrimary || (config.readWriteSplit && !$0.replicas.isEmpty) }.compactMap { entry in
            let plan = plan(for: entry, config: config, secrets: secrets)
            switch plan {
            case .login: return nil
            case .awaitingSCRAMLogin where entry.discoversPrimary:
                return "database \"\(entry.name)\": its primary is not known (clients wait) until a health check can log in: \(plan.problem ?? "")"
            case .impossible where entry.discoversPrimary:
                return "database \"\(entry.name)\": its hosts= servers can never be checked, so it never has a primary: \(plan.problem ?? "")"

            case .awaitingSCRAMLogin:
                return "database \"\(entry.name)\": its replicas get no reads until a health check can log in: \(plan.problem ?? "")"
            case .impossible:
                return "database \"\(entry.name)\": its replicas can never be checked, so every read goes to the primary: \(plan.problem ?? "")"
            }
        }
    }
}
