import NIOCore
import NIOPosix
import PGRelayCore
import PGWire

/// A one-shot PostgreSQL client for the proxy's own queries (health checks, auth_query): connect,
/// log in, run one statement with text parameters through the extended protocol (the values never
/// enter the SQL text), collect the rows, close. Each call uses a connection of its own, with the
/// server TLS setup in use (server_tls_sslmode), as the pooled server connections.
public struct InternalQueryClient: Sendable {
    /// Largest message accepted from the server: the proxy's own queries return small rows.
    public static let maxMessageLength = 1 << 20

    public let group: EventLoopGroup
    /// Where the server TLS setup in use is read for each connection; nil: plaintext.
    let serverTLS: TLSContextStore?

    public init(group: EventLoopGroup) {
        self.init(group: group, serverTLS: nil)
    }

    init(group: EventLoopGroup, serverTLS: TLSContextStore?) {
        self.group = group
        self.serverTLS = serverTLS
    }

    /// Runs `sql` on `database` at `address` as `credentials.user`.
    ///
    /// - Parameters:
    ///   - parameters: text values for `$1`, `$2`...; nil is NULL.
    ///   - timeout: bound on the whole exchange, connect included; the future fails with
    ///     ``InternalQueryError/timedOut(address:seconds:)`` and the connection closes.
    ///   - maxRows: more rows fail with ``InternalQueryError/tooManyRows(limit:)``.
    /// - Returns: the rows, or fails with an ``InternalQueryError``.
    public func query(_ sql: String, parameters: [String?] = [], address: BackendAddress, database: String,
                      credentials: ServerCredentials, timeout: TimeAmount,
                      maxRows: Int = 10_000) -> EventLoopFuture<QueryResult> {
        let loop = group.next()
        let machine = InternalQueryMachine(credentials: credentials, query: sql, parameters: parameters, maxRows: maxRows)
        do {
            try machine.validate()
        } catch {
            return loop.makeFailedFuture(error)
        }
        let promise = loop.makePromise(of: QueryResult.self)
        let exchange = InternalQueryExchange(machine: machine, promise: promise, address: address)
        let timeoutTask = loop.scheduleTask(in: timeout) {
            exchange.fail(.timedOut(address: address.description, seconds: Double(timeout.nanoseconds) / 1e9))
        }
        promise.futureResult.whenComplete { _ in timeoutTask.cancel() }

        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InternalQueryHandler(exchange: exchange))
                }
            }
        let connected: EventLoopFuture<Channel>
        if let path = address.unixSocketPath {
            connected = bootstrap.connect(unixDomainSocketPath: path)
        } else {
            connected = bootstrap.connect(host: address.host, port: address.port)
        }
        let serverTLS = self.serverTLS
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                let startup = ServerLoginMachine.startupMessage(user: credentials.user, database: database)
                guard let tls = serverTLS?.serverSide else {
                    exchange.connected(channel, startup: startup)
                    return
                }
                // Attached first, so that the timeout closes the channel during the negotiation too.
                exchange.attach(channel)
                ServerTLSNegotiation.negotiate(channel: channel, mode: tls.mode, context: tls.context, host: address.host,
                                               overUnixSocket: address.unixSocketPath != nil).whenComplete { negotiated in
                    switch negotiated {
                    case .success: exchange.connected(channel, startup: startup)
                    case .failure(let error): exchange.fail(.connectFailed(address: address.description, reason: "\(error)"))
                    }
                }
            case .failure(let error):
                exchange.fail(.connectFailed(address: address.description, reason: "\(error)"))
            }
        }
        return promise.futureResult
    }
}

/// The state of one exchange, owned by its event loop (every method runs there).
private final class InternalQueryExchange: @unchecked Sendable {
    private var machine: InternalQueryMachine
    private let promise: EventLoopPromise<QueryResult>
    private let address: BackendAddress
    private var channel: Channel?
    private var inbound: ByteBuffer?
    private var completed = false

    init(machine: InternalQueryMachine, promise: EventLoopPromise<QueryResult>, address: BackendAddress) {
        self.machine = machine
        self.promise = promise
        self.address = address
    }

    /// The connection is made but not ready for the StartupMessage yet (TLS is negotiated first).
    func attach(_ channel: Channel) {
        guard !completed else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
    }

    func connected(_ channel: Channel, startup: ByteBuffer) {
        guard !completed else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
        channel.writeAndFlush(startup, promise: nil)
    }

    func received(_ buffer: ByteBuffer) {
        guard !completed else { return }
        var bytes = buffer
        if inbound == nil {
            inbound = bytes
        } else {
            inbound!.writeBuffer(&bytes)
        }
        do {
            while var pending = inbound, let frame = try FrameReader.next(from: &pending, maxLength: InternalQueryClient.maxMessageLength) {
                inbound = pending
                perform(machine.receive(frame))
                if completed { return }
            }
            if inbound?.readableBytes == 0 { inbound = nil } else { inbound?.discardReadBytes() }
        } catch {
            fail(.protocolViolation("\(error)"))
        }
    }

    func closed() {
        perform(machine.connectionClosed())
    }

    private func perform(_ action: InternalQueryMachine.Action) {
        switch action {
        case .send(let bytes):
            channel?.writeAndFlush(bytes, promise: nil)
        case .wait:
            break
        case .done(let result):
            guard !completed else { return }
            completed = true
            var terminate = ByteBufferAllocator().buffer(capacity: 5)
            terminate.writeFrontendMessage(.terminate)
            channel?.writeAndFlush(terminate).whenComplete { [channel] _ in channel?.close(promise: nil) }
            promise.succeed(result)
        case .fail(let error):
            fail(error)
        }
    }

    func fail(_ error: InternalQueryError) {
        guard !completed else { return }
        completed = true
        channel?.close(promise: nil)
        promise.fail(error)
    }
}

/// Thin NIO adapter: bytes and the end of the connection go to the exchange.
private final class InternalQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let exchange: InternalQueryExchange

    init(exchange: InternalQueryExchange) {
        self.exchange = exchange
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        exchange.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
