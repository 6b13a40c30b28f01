/// What the proxy knows about the user a client names, before any password is exchanged: the
/// input of ``ClientAuthMachine``. PgBouncer's rules (client.c `set_pool`,
/// `handle_auth_query_response`).
public enum UserLookup: Equatable, Sendable {
    /// Listed in the auth_file with this secret (possibly an empty password).
    case listed(StoredSecret)
    /// Returned by `auth_query`. nil when its secret column was NULL or empty (an expired or
    /// password-less role): the user exists, but no password matches.
    case queried(StoredSecret?)
    /// Neither listed nor looked up (no auth_user applies to the database). The password
    /// exchange still runs and fails as a wrong password would (PgBouncer's mock authentication),
    /// so a client cannot tell an unknown user from a wrong password; `trust` refuses it.
    case unknown
    /// `auth_query` ran and returned no row. Refused at once with PgBouncer's "no such user":
    /// there is no mock authentication after auth_query (PgBouncer's TODO in
    /// `handle_auth_query_response`).
    case notFound

    /// The secret a password exchange is checked against; nil when nothing can match.
    public var secret: StoredSecret? {
        switch self {
        case .listed(let secret): return secret
        case .queried(let secret): return secret
        case .unknown, .notFound: return nil
        }
    }

    /// Whether the user exists for the proxy (enough for `trust`).
    public var isKnown: Bool {
        switch self {
        case .listed, .queried: return true
        case .unknown, .notFound: return false
        }
    }
}
