import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PGRelayCore

/// Secrets fetched with `auth_query`, kept briefly so that a burst of logins costs one query.
///
/// Only found secrets are kept (a failed or empty lookup is asked again next time). `latest`
/// ignores the age: server logins of a user who logged in through auth_query need the secret
/// (md5) or the recovered SCRAM keys after the cache window has passed.
public final class AuthSecretCache: Sendable {
    /// How long a fetched secret answers logins without a new query.
    public static let freshFor: TimeAmount = .seconds(60)
    /// Bound on remembered users, so that a flood of distinct names cannot grow memory.
    public static let capacity = 10_000

    private struct Entry {
        var secret: StoredSecret
        var fetched: NIODeadline
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    public init() {}

    /// The secret fetched for `user` less than `freshFor` ago.
    public func fresh(_ user: String, now: NIODeadline = .now()) -> StoredSecret? {
        entries.withLockedValue { entries in
            guard let entry = entries[user], now - entry.fetched < Self.freshFor else { return nil }
            return entry.secret
        }
    }

    /// The last secret fetched for `user`, however old.
    public func latest(_ user: String) -> StoredSecret? {
        entries.withLockedValue { $0[user]?.secret }
    }

    public func store(_ secret: StoredSecret, for user: String, now: NIODeadline = .now()) {
        entries.withLockedValue { entries in
            if entries.count >= Self.capacity, entries[user] == nil,
               let oldest = entries.min(by: { $0.value.fetched < $1.value.fetched })?.key {
                entries[oldest] = nil
            }
            entries[user] = Entry(secret: secret, fetched: now)
        }
    }
}

/// Where and how `auth_query` runs for one client login: the database entry's `auth_user=`,
/// `auth_query=` and `auth_dbname=` win over the global keys, as in PgBouncer.
public struct AuthQueryPlan: Sendable {
    public var authUser: String
    public var query: String
    /// The `[databases]` entry whose primary answers the query (auth_dbname's, or the client's).
    public var entry: DatabaseConfig

    /// nil when no auth_user applies to `database` (or the database is unknown).
    public init?(config: Config, database: String) {
        guard let clientEntry = config.database(named: database),
              let authUser = clientEntry.authUser ?? config.authUser, !authUser.isEmpty else { return nil }
        self.authUser = authUser
        self.query = clientEntry.authQuery ?? config.authQuery
        if let name = clientEntry.authDbname ?? config.authDbname, let authEntry = config.database(named: name) {
            self.entry = authEntry
        } else {
            self.entry = clientEntry
        }
    }

    /// The secret in a result of auth_query: the second column of the only row. No row, or a
    /// NULL secret (an expired or password-less role), means no secret: the login then fails as
    /// a wrong password would.
    public static func secret(in result: QueryResult) -> StoredSecret? {
        guard result.rows.count == 1, result.rows[0].count >= 2, let text = result.rows[0][1], !text.isEmpty else {
            return nil
        }
        return StoredSecret(parsing: text)
    }
}

/// Why an auth_query lookup could not answer; the text names no secret and no SQL literal.
public struct AuthLookupError: Error, CustomStringConvertible {
    public var description: String
}

extension ProxyRuntime {
    /// The secret a client login of `user` to `database` is checked against: the auth_file's,
    /// else (when an auth_user applies and this is not the console) the one `auth_query`
    /// returns, run as auth_user on the primary of the database (or auth_dbname's) with the user
    /// name as the parameter `$1`. Fails only when the query could not run.
    public func lookupSecret(user: String, database: String, isConsole: Bool) -> EventLoopFuture<StoredSecret?> {
        let loop = group.next()
        if let known = fileSecret(for: user) { return loop.makeSucceededFuture(known) }
        let config = self.config
        guard !isConsole, let plan = AuthQueryPlan(config: config, database: database),
              let address = plan.entry.hosts.first else {
            return loop.makeSucceededFuture(nil)
        }
        if let cached = authSecrets.fresh(user) { return loop.makeSucceededFuture(cached) }
        let credentials = self.credentials(for: plan.entry, user: plan.authUser)
        let timeout = TimeAmount.nanoseconds(Int64(max(1, config.serverConnectTimeout) * 1e9))
        let logger = self.logger
        return InternalQueryClient(group: group)
            .query(plan.query, parameters: [user], address: address, database: plan.entry.dbname ?? plan.entry.name,
                   credentials: credentials, timeout: timeout, maxRows: 2)
            .flatMapErrorThrowing { error in
                logger.warning("auth_query failed", metadata: ["auth_user": "\(plan.authUser)", "database": "\(plan.entry.name)",
                                                               "error": "\(error)"])
                throw AuthLookupError(description: "auth_query as \"\(plan.authUser)\" failed")
            }
            .map { [authSecrets] result in
                let secret = AuthQueryPlan.secret(in: result)
                if let secret { authSecrets.store(secret, for: user) }
                return secret
            }
    }
}

/// Peer credentials of a Unix-socket client (SO_PEERCRED), for `auth_type = peer` and for the
/// password-less console access of the OS user running pgrelay.
enum PeerCredentials {
    /// The OS user id of the process at the other end, or nil when it cannot be read.
    static func uid(of channel: Channel) -> EventLoopFuture<uid_t?> {
        guard let provider = channel as? SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
        let future: EventLoopFuture<PeerCredentialsValue> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET),
                                                                                               name: SocketOptionName(SO_PEERCRED))
        return future.map { Optional($0.uid) }.recover { _ in nil }
    }

    /// The layout of Linux's `struct ucred` (pid, uid, gid), which Glibc only exposes with _GNU_SOURCE.
    struct PeerCredentialsValue: Sendable {
        var pid: Int32 = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
    }

    /// The login name of `uid`, or nil when it has none.
    static func userName(of uid: uid_t) -> String? {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
