import Foundation
import NIOCore
import PGRelayCore
import PGWire

/// The trace context a request arrived with (boxed: a request label carries one reference, not
/// the 33 bytes, so idle clients do not grow).
final class TraceParentBox: Sendable {
    let parent: TraceParent

    init(_ parent: TraceParent) {
        self.parent = parent
    }
}

/// One event loop's part of tracing: finds the trace context of requests, decides which finished
/// requests become spans, and hands those to the exporter. Used only while `otlp_endpoint` is
/// set; owned by its loop, so it takes no lock until a sampled span is handed over.
struct LoopTracer {
    private(set) var sampler = TraceSampler(ratio: 0)
    private var random = TraceIDGenerator()
    private var exporter: SpanExporter?
    /// The last application_name looked at and the trace context found in it.
    private var applicationName = ""
    private var applicationParent: TraceParent?
    /// Wall clock minus the monotonic clock: spans carry wall-clock times.
    private let wallOffsetNanos: Int64

    init() {
        let wall = Int64(Date().timeIntervalSince1970 * 1e9)
        wallOffsetNanos = wall - Int64(NIODeadline.now().uptimeNanoseconds)
    }

    mutating func configure(sampleRatio: Double, exporter: SpanExporter) {
        sampler = TraceSampler(ratio: sampleRatio)
        self.exporter = exporter
    }

    /// The `traceparent` in the sqlcommenter comment of a Query's or Parse's statement.
    func traceParent(inFrame type: UInt8, _ buffer: ByteBuffer, at index: Int, length: Int) -> TraceParentBox? {
        guard type == FrontendType.query || type == FrontendType.parse else { return nil }
        let offset = index - buffer.readerIndex
        let found = buffer.withUnsafeReadableBytes { readable -> TraceParent? in
            let frame = UnsafeRawBufferPointer(rebasing: readable[offset ..< offset + length])
            if type == FrontendType.query {
                guard length > 6 else { return nil }
                return SQLCommenter.traceParent(inStatement: UnsafeRawBufferPointer(rebasing: frame[5 ..< length - 1]))
            }
            guard let texts = StatementNamePeek.parseTexts(type: type, frameBytes: frame) else { return nil }
            return SQLCommenter.traceParent(inStatement: UnsafeRawBufferPointer(rebasing: frame[texts.query]))
        }
        return found.map(TraceParentBox.init)
    }

    /// The trace context a client's application_name carries (looked at again only when it changes).
    mutating func parent(inApplicationName name: String) -> TraceParent? {
        if name != applicationName {
            applicationName = name
            applicationParent = name.utf8.count >= TraceParent.length ? TraceParent.find(in: name) : nil
        }
        return applicationParent
    }

    /// Makes a span of a finished request if the sampler says so.
    mutating func finished(_ request: FinishedRequest, applicationName: @autoclosure () -> String,
                           fingerprint: () -> String?) {
        guard let exporter else { return }
        let parent = request.trace?.parent ?? parent(inApplicationName: applicationName())
        let traceID: TraceID
        let parentID: SpanID?
        switch sampler.decide(parent: parent, random: { random.next() }) {
        case .none: return
        case .child(let caller):
            traceID = caller.traceID
            parentID = caller.parentID
        case .root:
            traceID = random.traceID()
            parentID = nil
        }
        exporter.submit(QuerySpan(
            traceID: traceID, spanID: random.spanID(), parentID: parentID,
            startUnixNanos: unixNanos(request.started), endUnixNanos: unixNanos(request.ended),
            database: request.database, user: request.user, route: request.route,
            serverHost: request.server?.host, serverPort: request.server?.port,
            fingerprint: fingerprint(), sqlState: request.sqlState, waitNanos: request.waitNanos))
    }

    private func unixNanos(_ deadline: NIODeadline) -> UInt64 {
        UInt64(max(0, Int64(deadline.uptimeNanoseconds) &+ wallOffsetNanos))
    }
}

/// What the client session knows about a request when its ReadyForQuery arrives.
struct FinishedRequest {
    var started: NIODeadline
    var ended: NIODeadline
    var trace: TraceParentBox?
    var database: String
    var user: String
    var route: QueryRoute
    var server: BackendAddress?
    var sqlState: String?
    var waitNanos: UInt64
}

extension ByteBuffer {
    /// The SQLSTATE of the ErrorResponse frame at `index` (see `ErrorFields.sqlState(inFrame:)`).
    func errorSQLState(at index: Int, length: Int) -> String? {
        let offset = index - readerIndex
        return withUnsafeReadableBytes { readable in
            guard offset >= 0, offset + length <= readable.count else { return nil }
            return ErrorFields.sqlState(inFrame: UnsafeRawBufferPointer(rebasing: readable[offset ..< offset + length]))
        }
    }
}
