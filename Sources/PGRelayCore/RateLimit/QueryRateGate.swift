import NIOCore
import PGWire

/// One client's way through its rate limits: decides, frame by frame, whether the client's next
/// message may go on now, must wait, or is refused (SQLSTATE 53400).
///
/// A request is a simple Query or FunctionCall, or an extended-protocol batch from its first
/// message to its Sync; it needs one turn from each of the client's buckets. A request whose
/// turn comes within `query_rate_wait_ms` waits for it (its messages, and everything after them,
/// stay unread). One whose turn is further off waits `query_rate_wait_ms`, asks once more, and
/// is refused if still too early — but only where refusing is clean: outside a transaction
/// block, with nothing else of the client in flight. Elsewhere (inside a transaction, behind
/// pipelined requests) a refusal would leave client and server disagreeing about the
/// transaction, so the request keeps its turn and waits for it however long that is.
///
/// Owned by the client's event loop; only the buckets are shared.
public final class QueryRateGate {
    public enum Decision: Equatable, Sendable {
        /// Forward the message.
        case pass
        /// Stop reading the client's messages until this monotonic time (nanoseconds), then ask again.
        case hold(untilNanos: Int64)
        /// Still waiting for a time already given by `hold`: stop reading, nothing new to schedule.
        case stillHolding
        /// Drop the message and send ErrorResponse 53400 with this text; for a simple Query or
        /// FunctionCall also ReadyForQuery, otherwise the rest of the batch is dropped (`discard`)
        /// and its Sync answered with ReadyForQuery (`endDiscard`).
        case refuse(message: String)
        case discard
        case endDiscard
    }

    private enum State: Equatable {
        case open
        /// Waiting for a reserved turn (`reserved`), or for one more try before refusing.
        case holding(untilNanos: Int64, reserved: Bool)
        case discarding
    }

    private let limits: QueryRateLimits
    private var buckets: [QueryRateBucket] = []
    private var generation: UInt64 = 0
    private var state = State.open
    /// Inside an extended-protocol batch (after its first message, before its Sync).
    private var inBatch = false

    public init(limits: QueryRateLimits) {
        self.limits = limits
    }

    /// Whether this client has any limit (after `admit` looked its buckets up).
    public var isLimited: Bool { !buckets.isEmpty }

    /// The decision for the client's next message of `type`. `canRefuse` says whether the client
    /// has nothing in flight and no transaction open; it is asked only when it matters, as is
    /// `clock` (monotonic nanoseconds).
    public func admit(_ type: UInt8, user: String, database: String, clock: () -> Int64, canRefuse: () -> Bool) -> Decision {
        switch state {
        case .discarding:
            if type == FrontendType.sync {
                state = .open
                inBatch = false
                return .endDiscard
            }
            return .discard
        case let .holding(until, reserved):
            let now = clock()
            guard now >= until else { return .stillHolding }
            state = .open
            if reserved {
                noteForwarded(type)
                return .pass
            }
            return retry(type, now: now)
        case .open:
            break
        }
        let generation = limits.generation
        if generation != self.generation {
            self.generation = generation
            buckets = limits.buckets(user: user, database: database)
        }
        guard !buckets.isEmpty, startsRequest(type) else {
            noteForwarded(type)
            return .pass
        }
        let now = clock()
        var wait: Int64 = 0
        for bucket in buckets { wait = Swift.max(wait, bucket.reserve(now: now)) }
        if wait == 0 {
            noteForwarded(type)
            return .pass
        }
        let maxWait = limits.maxWaitNanos
        if wait <= maxWait || !canRefuse() {
            for bucket in buckets { bucket.countDelayed() }
            state = .holding(untilNanos: now + wait, reserved: true)
            return .hold(untilNanos: now + wait)
        }
        for bucket in buckets { bucket.cancel() }
        if maxWait == 0 { return refuse(type) }
        state = .holding(untilNanos: now + maxWait, reserved: false)
        return .hold(untilNanos: now + maxWait)
    }

    /// The last try of a request that waited `query_rate_wait_ms` without a turn: go now or never.
    private func retry(_ type: UInt8, now: Int64) -> Decision {
        var wait: Int64 = 0
        for bucket in buckets { wait = Swift.max(wait, bucket.reserve(now: now)) }
        if wait == 0 {
            for bucket in buckets { bucket.countDelayed() }
            noteForwarded(type)
            return .pass
        }
        for bucket in buckets { bucket.cancel() }
        return refuse(type)
    }

    private func refuse(_ type: UInt8) -> Decision {
        let bucket = buckets.first { $0.scope == .user } ?? buckets[0]
        for bucket in buckets { bucket.countRefused() }
        if type != FrontendType.query, type != FrontendType.functionCall, type != FrontendType.sync {
            state = .discarding
            inBatch = true
        }
        let rate = bucket.rate
        let limit = rate.perSecond.rounded() == rate.perSecond ? String(Int(rate.perSecond)) : String(rate.perSecond)
        return .refuse(message: "query rate limit exceeded for \(bucket.scope.rawValue) \"\(bucket.name)\" "
            + "(\(limit) queries/s, waited \(limits.maxWaitNanos / 1_000_000) ms)")
    }

    /// A Query or FunctionCall is a request of its own; an extended-protocol message starts one
    /// unless a batch is already open. COPY data and Flush never start one.
    private func startsRequest(_ type: UInt8) -> Bool {
        switch type {
        case FrontendType.query, FrontendType.functionCall: return true
        case FrontendType.parse, FrontendType.bind, FrontendType.describe, FrontendType.execute,
             FrontendType.close, FrontendType.sync:
            return !inBatch
        default: return false
        }
    }

    private func noteForwarded(_ type: UInt8) {
        switch type {
        case FrontendType.parse, FrontendType.bind, FrontendType.describe, FrontendType.execute, FrontendType.close:
            inBatch = true
        case FrontendType.sync:
            inBatch = false
        default:
            break
        }
    }
}

extension QueryRateGate.Decision {
    /// What the client is told for a dropped message of `type`: ErrorResponse 53400 for a
    /// refusal (with ReadyForQuery for a simple Query, FunctionCall or bare Sync), ReadyForQuery
    /// for the Sync that ends a refused batch, nothing for the batch's other messages. Returns
    /// the error written, for the pooler-error log.
    @discardableResult
    public func reply(to type: UInt8, into buffer: inout ByteBuffer) -> ErrorFields? {
        switch self {
        case .refuse(let message):
            let error = ErrorFields(severity: "ERROR", sqlState: "53400", message: message)
            buffer.writeErrorResponse(error)
            if type == FrontendType.query || type == FrontendType.functionCall || type == FrontendType.sync {
                buffer.writeReadyForQuery(.idle)
            }
            return error
        case .endDiscard:
            buffer.writeReadyForQuery(.idle)
            return nil
        case .pass, .hold, .stillHolding, .discard:
            return nil
        }
    }
}
