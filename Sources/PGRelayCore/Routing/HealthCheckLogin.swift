/// Who the health checker logs in as, for one database entry. The rule, first match wins:
///
/// 1. the entry's `user=` with its `password=`;
/// 2. the entry's `user=` with its auth_file secret, when that is a plain password or an md5
///    secret (enough for password and md5 authentication, not for SCRAM);
/// 3. the auth_file user with a plain password whose name sorts first (a dictionary has no file
///    order; sorting keeps the choice stable across reloads).
///
/// nil when none applies: the backends of that database cannot be checked, and stay `down`.
public enum HealthCheckLogin {
    public static func credentials(for entry: DatabaseConfig, secrets: [String: StoredSecret]) -> ServerCredentials? {
        if let user = entry.user {
            if let password = entry.password {
                return ServerCredentials(user: user, password: password)
            }
            switch secrets[user] {
            case .plain(let password)?: return ServerCredentials(user: user, password: password)
            case .md5(let hash)?: return ServerCredentials(user: user, md5Secret: hash)
            case .scram?, nil: break
            }
        }
        for name in secrets.keys.sorted() {
            if case .plain(let password)? = secrets[name] {
                return ServerCredentials(user: name, password: password)
            }
        }
        return nil
    }
}
