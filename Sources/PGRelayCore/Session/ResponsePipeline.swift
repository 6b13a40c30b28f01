import NIOCore
import PGWire

/// The responses a server owes for what was sent to it, in order, so the proxy can answer some
/// client messages itself (a ParseComplete for a statement the server already has, a CloseComplete
/// for a statement it keeps cached) and drop the answers to messages it injected (a Parse before
/// a Bind on a server that lacks the statement) while the client sees exactly the stream a direct
/// connection gives.
public struct ResponsePipeline {
    /// What a message sent to the server will be answered with.
    public enum Expectation: Equatable, Sendable {
        case parse
        case bind
        case describeStatement
        case describePortal
        case execute
        case close
        /// Sync, Query and FunctionCall end with ReadyForQuery.
        case ready
    }

    public enum Entry: Equatable {
        /// The server's answer goes to the client.
        case forward(Expectation, serverStatement: String?)
        /// The proxy sent this message on its own; its answer is dropped (errors still reach the client).
        case swallow(Expectation, serverStatement: String?)
        /// The proxy answers in the server's place, once everything before it has been answered.
        case fake(ByteBuffer)
        /// A ReadyForQuery made up by the proxy, with the transaction status current at that point.
        case fakeReady
    }

    /// What to do with one server message.
    public enum Disposition: Equatable {
        case forward
        case drop
    }

    // Small at first (one per client, idle most of the time); it grows for pipelined batches.
    public private(set) var entries = CircularBuffer<Entry>(initialCapacity: 2)
    /// Status of the last ReadyForQuery seen (for made-up ReadyForQuery messages).
    public private(set) var status: TransactionStatus = .idle
    /// Made-up ReadyForQuery messages written since the last `takeFakeReadies()`: each one ends a
    /// request the caller counted as outstanding.
    public private(set) var fakeReadies = 0
    /// Statements the server did not prepare after all (an error made it skip their Parse).
    public private(set) var failedStatements: [String] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    public mutating func append(_ entry: Entry) {
        entries.append(entry)
    }

    /// Entries that can be answered now (made-up answers at the head), written to `out`.
    public mutating func drainFakes(into out: inout ByteBuffer) {
        while let head = entries.first {
            switch head {
            case .fake(var bytes):
                out.writeBuffer(&bytes)
                entries.removeFirst()
            case .fakeReady:
                out.writeReadyForQuery(status)
                entries.removeFirst()
                fakeReadies += 1
            default:
                return
            }
        }
    }

    public mutating func takeFakeReadies() -> Int {
        defer { fakeReadies = 0 }
        return fakeReadies
    }

    public mutating func takeFailedStatements() -> [String] {
        guard !failedStatements.isEmpty else { return [] }
        defer { failedStatements = [] }
        return failedStatements
    }

    /// Classifies one server message of type `type`; made-up answers that become due after it are
    /// written to `fakesAfter`.
    public mutating func serverMessage(_ type: UInt8, status newStatus: TransactionStatus? = nil,
                                       fakesAfter: inout ByteBuffer) -> Disposition {
        switch type {
        case BackendType.noticeResponse, BackendType.parameterStatus, BackendType.notificationResponse:
            return .forward
        default:
            break
        }
        guard let head = entries.first else {
            // Nothing expected (e.g. an error a server sends on its own): pass it on.
            if type == BackendType.readyForQuery, let newStatus { status = newStatus }
            return .forward
        }
        let (expectation, swallowed, statement): (Expectation, Bool, String?)
        switch head {
        case .forward(let e, let s): (expectation, swallowed, statement) = (e, false, s)
        case .swallow(let e, let s): (expectation, swallowed, statement) = (e, true, s)
        case .fake, .fakeReady:
            // Cannot happen: fakes at the head are drained before the next server message.
            drainFakes(into: &fakesAfter)
            return serverMessage(type, status: newStatus, fakesAfter: &fakesAfter)
        }
        if type == BackendType.readyForQuery, expectation != .ready {
            // Messages sent after an error and before this Sync were skipped by the server (the
            // error may have come before they were even written): their answers, and the
            // proxy's made-up ones, never come. Without this, they would stay at the head and
            // every later answer would be matched against the wrong message.
            skipToSync()
            return serverMessage(type, status: newStatus, fakesAfter: &fakesAfter)
        }
        if type == BackendType.errorResponse {
            if expectation == .ready {
                // An error inside a Query: ReadyForQuery still follows.
                return .forward
            }
            _ = statement
            skipToSync()
            drainFakes(into: &fakesAfter)
            return .forward
        }
        let completes: Bool
        switch expectation {
        case .parse: completes = type == BackendType.parseComplete
        case .bind: completes = type == BackendType.bindComplete
        case .close: completes = type == BackendType.closeComplete
        case .describePortal: completes = type == BackendType.rowDescription || type == BackendType.noData
        case .describeStatement:
            completes = type == BackendType.rowDescription || type == BackendType.noData
        case .execute:
            completes = type == BackendType.commandComplete || type == BackendType.emptyQueryResponse
                || type == BackendType.portalSuspended
        case .ready:
            completes = type == BackendType.readyForQuery
            if completes, let newStatus { status = newStatus }
        }
        if completes {
            entries.removeFirst()
            drainFakes(into: &fakesAfter)
        }
        return swallowed ? .drop : .forward
    }

    /// After an error in extended protocol the server ignores everything up to the next Sync:
    /// their answers never come, made-up ones must not either, and Parses skipped there did not
    /// prepare anything.
    private mutating func skipToSync() {
        while let head = entries.first {
            switch head {
            case .forward(.ready, _), .swallow(.ready, _):
                return
            case .forward(.parse, let statement?), .swallow(.parse, let statement?):
                failedStatements.append(statement)
            default:
                break
            }
            entries.removeFirst()
        }
    }

    public mutating func reset() {
        // Keeping the storage: a release per transaction must not reallocate it.
        if !entries.isEmpty { entries.removeAll(keepingCapacity: true) }
        if !failedStatements.isEmpty { failedStatements = [] }
        fakeReadies = 0
    }
}
