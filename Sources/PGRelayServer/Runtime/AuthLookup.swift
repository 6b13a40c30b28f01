import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PGRelayCore
import PGWire

/// The secrets `auth_query` last returned, for the server logins of the users who logged in
/// with them (an md5 secret logs in as it is; a SCRAM one needs the keys of the client's login).
///
/// Never used to admit a client: every login of a user missing from the auth_file runs
/// auth_query again, as in PgBouncer, so that a changed password, `VALID UNTIL` or a dropped role
/// takes effect at the next login. A lookup that finds no secret forgets the old one.
public final class AuthSecretCache: Sendable {
    /// Bound on remembered users, so that a flood of distinct names cannot grow memory.
    public static let capacity = 10_000

    private struct Entry {
        var secret: StoredSecret
        var fetched: NIODeadline
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    public init() {}

    /// The last secret fetched for `user`.
    public func latest(_ user: String) -> StoredSecret? {
        entries.withLockedValue { $0[user]?.secret }
    }

    /// Remembers what auth_query answered for `user`: its secret, or (nil) that it has none.
    public func record(_ secret: StoredSecret?, for user: String, now: NIODeadline = .now()) {
        entries.withLockedValue { entries in
            guard let secret else {
                entries[user] = nil
                return
            }
            if entries.count >= Self.capacity, entries[user] == nil,
               let oldest = entries.min(by: { $0.value.fetched < $1.value.fetched })?.key {
                entries[oldest] = nil
            }
            entries[user] = Entry(secret: secret, fetched: now)
        }
    }
}

extension ProxyRuntime {
    /// What the proxy knows of `user` logging in to `database` (a console name for the admin
    /// console): the auth_file's entry, else (when an auth_user applies) what `auth_query` returns,
    /// run as auth_user on the primary of the authentication database with the user name as the
    /// parameter `$1`. Fails with a ``LoginRefusal`` when the authentication database cannot be
    /// used or the query cannot answer.
    public func lookupUser(_ user: String, database: String) -> EventLoopFuture<UserLookup> {
        let loop = group.next()
        if let known = fileSecret(for: user) { return loop.makeSucceededFuture(.listed(known)) }
        let config = self.config
        let plan: AuthQueryPlan
        switch AuthQueryPlan.resolve(config: config, database: database, isDisabled: { self.isDisabled(database: $0) }) {
        case .none: return loop.makeSucceededFuture(.unknown)
        case .refuse(let refusal): return loop.makeFailedFuture(refusal)
        case .run(let resolved): plan = resolved
        }
        // hosts=: the primary found by the checks (any listed server answers auth_query, but the
        // primary is the one known to be up).
        let discovered = plan.entry.discoversPrimary ? routing.primaryVerdict(database: plan.entry.name)?.primary : nil
        guard let address = discovered ?? plan.entry.hosts.first else {
            return loop.makeFailedFuture(LoginRefusal.configError(log: "authentication database \"\(plan.entry.name)\" has no host"))
        }
        let credentials = self.credentials(for: plan.entry, user: plan.authUser)
        let timeout = TimeAmount.nanoseconds(Int64(max(1, config.serverConnectTimeout) * 1e9))
        let logger = self.logger
        let metadata: Logger.Metadata = ["auth_user": "\(plan.authUser)", "database": "\(plan.entry.name)"]
        return InternalQueryClient(group: ioGroup, serverTLS: tls)
            .query(plan.query, parameters: [user], address: address, database: plan.entry.serverDatabaseName(forRequested: plan.entry.name),
                   credentials: credentials, timeout: timeout, maxRows: 2)
            .flatMapErrorThrowing { error in
                // The server's own words (PgBouncer logs them too): a wrong query or missing
                // rights is a configuration error. Other causes (an unreachable server) stay in
                // the log: an unauthenticated client is not told where the servers are.
                switch error as? InternalQueryError {
                case .queryFailed?:
                    throw LoginRefusal.configError(log: "error in auth_query as \"\(plan.authUser)\" in \"\(plan.entry.name)\": \(error)")
                case .loginFailed(let fields)?:
                    // As PgBouncer: the server's refusal (no such database, a wrong auth_user
                    // password) reaches the client in the server's words, and the log says so.
                    logger.warning("server login failed: \(fields.severity) \(fields.message)", metadata: metadata)
                    throw LoginRefusal(error: ErrorFields(severity: "FATAL", sqlState: fields.sqlState ?? "08006", message: fields.message),
                                       log: nil)
                default:
                    break
                }
                logger.warning("auth_query failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                throw LoginRefusal(error: ErrorFields(severity: "FATAL", sqlState: "08006", message: "auth_query as \"\(plan.authUser)\" failed"),
                                   log: nil)
            }
            .flatMapResult { [authSecrets] result in
                let lookup = AuthQueryPlan.lookup(in: result)
                if case .success(let found) = lookup { authSecrets.record(found.secret, for: user) }
                return lookup
            }
    }
}

/// Peer credentials of a Unix-socket client (SO_PEERCRED), for `auth_type = peer` and for the
/// password-less console access of the OS user running pgrelay.
enum PeerCredentials {
    /// The OS user id of the process at the other end, or nil when it cannot be read.
    static func uid(of transport: RelayTransport) -> uid_t? {
        (transport as? SocketTransport)?.connection.peerUserID
    }

    /// The login name of `uid`, or nil when it has none.
    static func userName(of uid: uid_t) -> String? {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
