import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The HTTP admin API on `admin_addr:admin_port` (see INTERFACE.md, "Admin HTTP API").
///
/// Give it its own event loop group (one thread is plenty), apart from the proxy's loops, so it
/// answers `/health` even when the proxy loops are saturated.
public final class AdminHTTPServer: Sendable {
    /// Connections idle (between requests) longer than this are closed.
    public static let idleTimeout = TimeAmount.seconds(60)
    /// Default limit of open connections; beyond it new ones are closed at once, so a misbehaving
    /// scraper cannot exhaust file descriptors.
    public static let defaultMaxConnections = 128

    private let group: EventLoopGroup
    private let host: String
    private let port: Int
    private let api: AdminAPI
    private let maxConnections: Int
    private let reusePort: Bool
    private let serverChannel = Mutex<Channel?>(nil)
    private let connections = Mutex<[ObjectIdentifier: Channel]>([:])

    /// Prepares a server; nothing is bound until `start()`. Port 0 picks a free port.
    /// `reusePort`: SO_REUSEPORT, so that processes started with so_reuseport share the port.
    public init(group: EventLoopGroup, host: String, port: Int, api: AdminAPI,
                maxConnections: Int = AdminHTTPServer.defaultMaxConnections, reusePort: Bool = false) {
        self.group = group
        self.reusePort = reusePort
        self.host = host
        self.port = port
        self.api = api
        self.maxConnections = Swift.max(1, maxConnections)
    }

    /// Binds and starts accepting; the future fails with the bind error (address in use, bad host),
    /// or with `ChannelError.inappropriateOperationForState` when already started.
    public func start() -> EventLoopFuture<Void> {
        if serverChannel.withLock({ $0 != nil }) {
            return group.next().makeFailedFuture(ChannelError.inappropriateOperationForState)
        }
        let responder = AdminResponder(api: api)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: reusePort ? 1 : 0)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [weak self] channel in
                guard self?.track(channel) ?? false else {
                    // A failed initializer makes NIO close the accepted connection.
                    return channel.eventLoop.makeFailedFuture(ChannelError.inappropriateOperationForState)
                }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                    try pipeline.addHandler(AdminHTTPHandler(responder: responder))
                }
            }
        return bootstrap.bind(host: host, port: port).map { [weak self] channel in
            self?.serverChannel.withLock { $0 = channel }
        }
    }

    /// The bound port once started (useful with port 0).
    public var localPort: Int? {
        serverChannel.withLock { $0?.localAddress?.port }
    }

    /// Stops accepting and closes open connections; completes when the listener is closed.
    @discardableResult
    public func stop() -> EventLoopFuture<Void> {
        let listener = serverChannel.withLock { channel -> Channel? in
            defer { channel = nil }
            return channel
        }
        let open = connections.withLock { Array($0.values) }
        for connection in open { connection.close(promise: nil) }
        guard let listener else { return group.next().makeSucceededVoidFuture() }
        return listener.close().recover { _ in }
    }

    /// Registers an accepted connection; false when the server is at its connection limit.
    private func track(_ channel: Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = connections.withLock { open -> Bool in
            guard open.count < self.maxConnections else { return false }
            open[id] = channel
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.connections.withLock { _ = $0.removeValue(forKey: id) }
        }
        return true
    }
}
