import NIOCore
import PGRelayCore

/// The per-client timeouts, as time amounts (zero = off).
struct ClientTimeouts: Sendable {
    var queryTimeout: TimeAmount
    var idleTransactionTimeout: TimeAmount
    var clientIdleTimeout: TimeAmount

    init(config: Config) {
        func amount(_ seconds: Double) -> TimeAmount { seconds > 0 ? .nanoseconds(Int64(seconds * 1e9)) : .zero }
        queryTimeout = amount(config.queryTimeout)
        idleTransactionTimeout = amount(config.idleTransactionTimeout)
        clientIdleTimeout = amount(config.clientIdleTimeout)
    }

    var any: Bool { queryTimeout > .zero || idleTransactionTimeout > .zero || clientIdleTimeout > .zero }
}
