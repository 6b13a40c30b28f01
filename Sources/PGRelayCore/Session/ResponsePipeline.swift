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

    /// An entry as stored: plain values only, so that looking at the head copies no reference.
    /// An `Entry` carries a String or a ByteBuffer, and every look at a stored one retained and
    /// released it (several times per message on the per-query path).
    private struct Slot {
        enum Kind { case forward, swallow, fake, fakeReady }
        var kind: Kind
        var expectation: Expectation
        /// Whether the entry's server statement is the first of `statements` not yet taken.
        var hasStatement: Bool
    }

    // Small at first (one per client, idle most of the time); it grows for pipelined batches.
    private var slots = CircularBuffer<Slot>(initialCapacity: 2)
    /// The server statement names of the slots that have one, in the slots' order (Parses the
    /// proxy sent under its own names; rare on the per-query path, so a plain array).
    private var statements: [String] = []
    /// The bytes of the `.fake` slots, in the slots' order.
    private var fakeAnswers: [ByteBuffer] = []
    /// Status of the last ReadyForQuery seen (for made-up ReadyForQuery messages).
    public private(set) var status: TransactionStatus = .idle
    /// Made-up ReadyForQuery messages written since the last `takeFakeReadies()`: each one ends a
    /// request the caller counted as outstanding.
    public private(set) var fakeReadies = 0
    /// Statements the server did not prepare after all (an error made it skip their Parse).
    public private(set) var failedStatements: [String] = []

    public init() {}

    public var isEmpty: Bool { slots.isEmpty }

    /// What is still owed, in order (for tests and diagnostics; the per-message path never
    /// builds it).
    public var entries: [Entry] {
        var statementIndex = statements.startIndex, fakeIndex = fakeAnswers.startIndex
        return slots.map { slot in
            switch slot.kind {
            case .forward, .swallow:
                var statement: String?
                if slot.hasStatement {
                    statement = statements[statementIndex]
                    statementIndex += 1
                }
                return slot.kind == .forward ? .forward(slot.expectation, serverStatement: statement)
                    : .swallow(slot.expectation, serverStatement: statement)
            case .fake:
                defer { fakeIndex += 1 }
                return .fake(fakeAnswers[fakeIndex])
            case .fakeReady:
                return .fakeReady
            }
        }
    }

    public mutating func append(_ entry: Entry) {
        switch entry {
        case .forward(let expectation, let statement), .swallow(let expectation, let statement):
            let kind: Slot.Kind
            if case .forward = entry { kind = .forward } else { kind = .swallow }
            if let statement { statements.append(statement) }
            slots.append(Slot(kind: kind, expectation: expectation, hasStatement: statement != nil))
        case .fake(let bytes):
            fakeAnswers.append(bytes)
            slots.append(Slot(kind: .fake, expectation: .ready, hasStatement: false))
        case .fakeReady:
            slots.append(Slot(kind: .fakeReady, expectation: .ready, hasStatement: false))
        }
    }

    /// Removes the head slot and what it holds besides; returns its statement, if it has one.
    @discardableResult
    private mutating func removeHead() -> String? {
        let head = slots.removeFirst()
        switch head.kind {
        case .fake:
            fakeAnswers.removeFirst()
        case .forward, .swallow:
            if head.hasStatement { return statements.removeFirst() }
        case .fakeReady:
            break
        }
        return nil
    }

    /// Entries that can be answered now (made-up answers at the head), written to `out`.
    public mutating func drainFakes(into out: inout ByteBuffer) {
        while let head = slots.first {
            switch head.kind {
            case .fake:
                out.writeImmutableBuffer(fakeAnswers[fakeAnswers.startIndex])
                removeHead()
            case .fakeReady:
                out.writeReadyForQuery(status)
                removeHead()
                fakeReadies += 1
            case .forward, .swallow:
                return
            }
        }
    }

    public mutating func takeFakeReadies() -> Int {
        defer { fakeReadies = 0 }
        return fakeReadies
    }

    /// Whether `takeFailedStatements()` has anything (asked per server message; the array is
    /// not copied out for the answer).
    public var hasFailedStatements: Bool { !failedStatements.isEmpty }

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
        guard let head = slots.first else {
            // Nothing expected (e.g. an error a server sends on its own): pass it on.
            if type == BackendType.readyForQuery, let newStatus { status = newStatus }
            return .forward
        }
        let expectation = head.expectation
        let swallowed: Bool
        switch head.kind {
        case .forward: swallowed = false
        case .swallow: swallowed = true
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
            removeHead()
            drainFakes(into: &fakesAfter)
        }
        return swallowed ? .drop : .forward
    }

    /// After an error in extended protocol the server ignores everything up to the next Sync:
    /// their answers never come, made-up ones must not either, and Parses skipped there did not
    /// prepare anything.
    private mutating func skipToSync() {
        while let head = slots.first {
            if head.kind == .forward || head.kind == .swallow, head.expectation == .ready { return }
            if let statement = removeHead(), head.expectation == .parse { failedStatements.append(statement) }
        }
    }

    public mutating func reset() {
        // Keeping the storage: a release per transaction must not reallocate it.
        if !slots.isEmpty { slots.removeAll(keepingCapacity: true) }
        if !statements.isEmpty { statements = [] }
        if !fakeAnswers.isEmpty { fakeAnswers = [] }
        if !failedStatements.isEmpty { failedStatements = [] }
        fakeReadies = 0
    }
}
