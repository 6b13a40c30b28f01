import PGWire

/// Follows one client/server link closely enough to know when the server may go back to the pool:
/// every Query, Sync and FunctionCall the client sends is answered by exactly one ReadyForQuery,
/// and extended-protocol messages after the last Sync keep the server busy until their Sync.
public struct TransactionTracker: Sendable, Equatable {
    /// Requests forwarded whose ReadyForQuery has not come back yet.
    public private(set) var outstanding = 0
    /// Extended-protocol messages were sent after the last Sync (a Flush does not end a batch).
    public private(set) var batchOpen = false
    /// The status of the last ReadyForQuery.
    public private(set) var status: TransactionStatus = .idle

    public init() {}

    /// Records a message forwarded from the client to the server.
    /// - Returns: true when the message expects a ReadyForQuery of its own.
    @discardableResult
    public mutating func clientSent(_ type: UInt8) -> Bool {
        switch type {
        case FrontendType.sync, FrontendType.query, FrontendType.functionCall:
            // PostgreSQL ends the implicit transaction of an unsynced batch at a Query or
            // FunctionCall too: its ReadyForQuery leaves the server as idle as a Sync's does.
            outstanding += 1
            batchOpen = false
            return true
        case FrontendType.parse, FrontendType.bind, FrontendType.describe, FrontendType.execute, FrontendType.close:
            batchOpen = true
            return false
        default:
            return false
        }
    }

    /// Records a ReadyForQuery from the server.

    public mutating func serverReady(_ newStatus: TransactionStatus) {
        if outstanding > 0 { outstanding -= 1 }
        status = newStatus
    }

    /// Nothing is in flight and no transaction is open: the server may serve someone else.

    public var isIdle: Bool { outstanding == 0 && !batchOpen && status == .idle }

    /// Nothing is in flight, whatever the transaction state.

    public var isQuiet: Bool { outstanding == 0 && !batchOpen }

    public mutating func reset() {
        self = TransactionTracker()
    }
}
