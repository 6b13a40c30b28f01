import NIOCore
import NIOHTTP1
import NIOPosix
import PGRelayCore
import Synchronization
@testable import PGRelayServer

/// An AdminAPI with canned answers that remembers the commands it received.
final class FakeAdminAPI: AdminAPI {
    struct State {
        var snapshot: QueryStatsSnapshot
        var backends: [BackendHealth] = []
        var history: [QueryHistoryPoint] = []
        var listings: [AdminListing: [[String: AdminValue]]] = [:]
        var samples: [PrometheusSample] = []
        var reloadError: Error?
        var commands: [String] = []
    }

    let state: Mutex<State>
    let eventLoop: EventLoop

    init(snapshot: QueryStatsSnapshot, eventLoop: EventLoop) {
        state = Mutex(State(snapshot: snapshot))
        self.eventLoop = eventLoop
    }

    func queryStats() -> QueryStatsSnapshot { state.withLock { $0.snapshot } }
    func healthBackends() -> [BackendHealth] { state.withLock { $0.backends } }
    func queryHistory() -> (points: [QueryHistoryPoint], settings: StatsSettings) {
        (state.withLock { $0.history }, StatsSettings())
    }
    func listing(_ name: AdminListing) -> EventLoopFuture<[[String: AdminValue]]> {
        eventLoop.makeSucceededFuture(state.withLock { $0.listings[name] ?? [] })
    }

    func prometheusSamples() -> EventLoopFuture<[PrometheusSample]> {
        eventLoop.makeSucceededFuture(state.withLock { $0.samples })
    }

    func reload() -> EventLoopFuture<String> {
        let error = state.withLock { state -> Error? in
            state.commands.append("reload")
            return state.reloadError
        }
        if let error { return eventLoop.makeFailedFuture(error) }
        return eventLoop.makeSucceededFuture("RELOAD")
    }

    func pause(database: String?) -> EventLoopFuture<String> {
        state.withLock { $0.commands.append("pause \(database ?? "*")") }
        return eventLoop.makeSucceededFuture("PAUSE")
    }

    func resume(database: String?) -> EventLoopFuture<String> {
        state.withLock { $0.commands.append("resume \(database ?? "*")") }
        return eventLoop.makeSucceededFuture("RESUME")
    }
}

/// A snapshot with `slow` slow queries out of `total`, for the health bands.
func snapshot(slow: Int, total: Int, databases: [String] = ["appdb"]) -> QueryStatsSnapshot {
    let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(), clock: { 1_000_000_000 })
    for index in 0 ..< total {
        registry.shard(at: 0).record(QuerySample(
            durationNanos: index < slow ? 200_000_000 : 1_000_000, database: databases[index % databases.count],
            user: "app", route: .primary, fingerprint: "SELECT $\(index % 3 + 1)"))
    }
    return registry.snapshot()
}

/// A received HTTP response.
struct ReceivedResponse {
    var head: HTTPResponseHead
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Collects complete responses and hands them out in order.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var received: [ReceivedResponse] = []
    private var waiters: [EventLoopPromise<ReceivedResponse>] = []
    private var isClosed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(value):
            head = value
            body = []
        case var .body(buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            received.append(ReceivedResponse(head: head, body: body))
            deliver()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        for waiter in waiters { waiter.fail(ChannelError.eof) }
        waiters = []
    }

    /// The next response; fails at once when the server has already closed the connection
    /// (a refused connection can close before the request is written) and after `timeout`, so
    /// that a test fails instead of hanging.
    func next(on eventLoop: EventLoop, timeout: TimeAmount) -> EventLoopFuture<ReceivedResponse> {
        let promise = eventLoop.makePromise(of: ReceivedResponse.self)
        waiters.append(promise)
        deliver()
        if isClosed, !waiters.isEmpty {
            for waiter in waiters { waiter.fail(ChannelError.eof) }
            waiters = []
        }
        let expiry = eventLoop.scheduleTask(in: timeout) { promise.fail(ChannelError.connectTimeout(timeout)) }
        promise.futureResult.whenComplete { _ in expiry.cancel() }
        return promise.futureResult
    }

    private func deliver() {
        while !received.isEmpty, !waiters.isEmpty {
            waiters.removeFirst().succeed(received.removeFirst())
        }
    }
}

/// A minimal HTTP/1.1 client over one connection (keep-alive), built on NIO's client handlers.
final class TestHTTPClient {
    private let channel: Channel
    private let collector: NIOLoopBound<ResponseCollector>

    init(group: EventLoopGroup, port: Int) throws {
        let collectorBox = Mutex<NIOLoopBound<ResponseCollector>?>(nil)
        channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ResponseCollector()
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                    collectorBox.withLock { $0 = NIOLoopBound(handler, eventLoop: channel.eventLoop) }
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
        collector = try collectorBox.withLock { try $0.unwrap() }
    }

    func request(_ method: HTTPMethod, _ uri: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> ReceivedResponse {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        head.headers.add(name: "Host", value: "127.0.0.1")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if !body.isEmpty || method == .POST { head.headers.add(name: "Content-Length", value: String(body.count)) }
        let channel = self.channel
        let collector = self.collector
        let bodyBuffer = channel.allocator.buffer(bytes: body)
        return try channel.eventLoop.flatSubmit { () -> EventLoopFuture<ReceivedResponse> in
            let response = collector.value.next(on: channel.eventLoop, timeout: .seconds(20))
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if bodyBuffer.readableBytes > 0 { channel.write(HTTPClientRequestPart.body(.byteBuffer(bodyBuffer)), promise: nil) }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            return response
        }.wait()
    }

    var isActive: Bool { channel.isActive }

    var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Waits for the server to close the connection; throws instead of hanging when it does not.
    func waitUntilClosed(within timeout: TimeAmount = .seconds(20)) throws {
        try channel.closeFuture.waitWithin(timeout, on: channel.eventLoop)
    }

    func close() {
        try? channel.close().wait()
    }
}

extension EventLoopFuture where Value == Void {
    /// `wait()` that gives up after `timeout`, so a missing close fails the test instead of CI.
    func waitWithin(_ timeout: TimeAmount, on eventLoop: EventLoop) throws {
        let bounded = eventLoop.makePromise(of: Void.self)
        let expiry = eventLoop.scheduleTask(in: timeout) { bounded.fail(ChannelError.connectTimeout(timeout)) }
        cascade(to: bounded)
        defer { expiry.cancel() }
        try bounded.futureResult.wait()
    }
}

private extension Optional {
    func unwrap() throws -> Wrapped {
        guard let value = self else { throw ChannelError.inappropriateOperationForState }
        return value
    }
}
