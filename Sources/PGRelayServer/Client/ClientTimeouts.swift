import NIOCore
import PGRelayCore

/// The per-client timeouts, as time amounts (zero = off): the global values, and a `[users]`
/// entry's values for the clients logged in as that user (as in PgBouncer, a value above 0 there
/// wins over the global one; the user is the client's login name, not a database's forced user).
struct ClientTimeouts: Sendable {
    struct Amounts: Sendable, Equatable {
        var query: TimeAmount
        var idleTransaction: TimeAmount
        var clientIdle: TimeAmount
        var transaction: TimeAmount

        var any: Bool { query > .zero || idleTransaction > .zero || clientIdle > .zero || transaction > .zero }
    }

    private var global: Amounts
    private var userAmounts: [String: Amounts]
    /// server_fast_close: in session mode, a server marked for closing (RECONNECT, reload) closes
    /// between two transactions, with its client, instead of at the end of the session.
    var serverFastClose: Bool

    init(config: Config) {
        global = Amounts(query: Self.amount(config.queryTimeout), idleTransaction: Self.amount(config.idleTransactionTimeout),
                         clientIdle: Self.amount(config.clientIdleTimeout), transaction: Self.amount(config.transactionTimeout))
        var overrides: [String: Amounts] = [:]
        for user in config.users {
            let amounts = Amounts(query: Self.override(user.queryTimeout) ?? global.query,
                                  idleTransaction: Self.override(user.idleTransactionTimeout) ?? global.idleTransaction,
                                  clientIdle: Self.override(user.clientIdleTimeout) ?? global.clientIdle,
                                  transaction: Self.override(user.transactionTimeout) ?? global.transaction)
            if amounts != global { overrides[user.name] = amounts }
        }
        userAmounts = overrides
        serverFastClose = config.serverFastClose
    }

    /// The timeouts of a client logged in as `user`.
    func amounts(forUser user: String) -> Amounts {
        userAmounts[user] ?? global
    }

    /// Whether any client could time out (otherwise the clients are not visited at all).
    var any: Bool {
        global.any || userAmounts.values.contains(where: \.any) || serverFastClose
    }

    private static func amount(_ seconds: Double) -> TimeAmount { seconds > 0 ? .nanoseconds(Int64(seconds * 1e9)) : .zero }

    private static func override(_ seconds: Double?) -> TimeAmount? {
        guard let seconds, seconds > 0 else { return nil }
        return amount(seconds)
    }
}
