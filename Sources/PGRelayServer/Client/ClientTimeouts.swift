import NIOCore
import PGRelayCore

/// The per-client timeouts, as time amounts (zero = off).
struct ClientTimeouts: Sendable {
    var queryTimeout: TimeAmount
    var idleTransactionTimeout: TimeAmount
    var clientIdleTimeout: TimeAmount
    /// transaction_timeout: the global value; `[users]` entries may override it.
    var transactionTimeout: TimeAmount
    private var userTransactionTimeouts: [String: TimeAmount]
    /// server_fast_close: in session mode, a server marked for closing (RECONNECT, reload) closes
    /// between two transactions, with its client, instead of at the end of the session.
    var serverFastClose: Bool

    init(config: Config) {
        queryTimeout = Self.amount(config.queryTimeout)
        idleTransactionTimeout = Self.amount(config.idleTransactionTimeout)
        clientIdleTimeout = Self.amount(config.clientIdleTimeout)
        transactionTimeout = Self.amount(config.transactionTimeout)
        var overrides: [String: TimeAmount] = [:]
        for user in config.users {
            if let seconds = user.transactionTimeout, seconds > 0 { overrides[user.name] = Self.amount(seconds) }
        }
        userTransactionTimeouts = overrides
        serverFastClose = config.serverFastClose
    }

    private static func amount(_ seconds: Double) -> TimeAmount { seconds > 0 ? .nanoseconds(Int64(seconds * 1e9)) : .zero }

    /// transaction_timeout for a client logged in as `user` (as in PgBouncer, a `[users]` value
    /// above 0 wins over the global one).
    func transactionTimeout(forUser user: String) -> TimeAmount {
        userTransactionTimeouts[user] ?? transactionTimeout
    }

    var any: Bool {
        queryTimeout > .zero || idleTransactionTimeout > .zero || clientIdleTimeout > .zero || transactionTimeout > .zero
            || !userTransactionTimeouts.isEmpty || serverFastClose
    }
}
