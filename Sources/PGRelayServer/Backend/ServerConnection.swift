import Logging
import NIOCore
import NIOSSL
import PGRelayCore
import PGRelayEngine
import PGWire
import Synchronization

/// One connection from the proxy to PostgreSQL, on a reactor of the engine (a server that answers
/// 'S' to the SSLRequest has its socket handed to NIO for TLS, and its events hop back to that
/// reactor). Its state belongs to its event loop. While lent to
/// a client, the bytes it reads go to that client's session (on the client's loop) untouched; while
/// idle it handles what the server sends on its own (ParameterStatus, a shutdown notice).
final class ServerConnection: @unchecked Sendable {
    let id: UInt64
    let pool: ServerPool
    let loop: EventLoop
    let address: BackendAddress
    let createdAt = NIODeadline.now()

    /// The socket: an engine connection, or a NIO channel once TLS carries it.
    private(set) var transport: RelayTransport?
    /// Whether the linked client runs on this server's loop: `write` and `flush` are called
    /// from the client's loop.
    private var clientSharesLoop = false
    /// Bytes read for a client on another reactor and not yet taken there. A read burst goes on
    /// until the socket is empty, and the client's "stop reading" (its socket is full) only
    /// reaches this reactor after that client's reactor has taken what was handed over: without a
    /// bound, a server faster than its client could pile up a whole large result in hand-overs.
    private let handedOver = Atomic<Int>(0)
    /// Reading is off because `handedOver` passed `handOverLimit`; the client's reactor turns it
    /// back on when it has taken enough (set here, cleared there).
    private let readingPausedForHandOver = Atomic<Bool>(false)
    /// As the sockets' high watermark, a few reads' worth.
    static let handOverLimit = 256 * 1024
    /// Values of the server's reported parameters (from ParameterStatus).
    var parameters: [String: String] = [:] {
        didSet { matchedParameterSet = 0 }
    }
    /// The set of tracked values (`ParameterSetIDs`) this server is known to have; 0: unknown.
    var matchedParameterSet: UInt64 = 0
    private(set) var backendKey: CancelRequest?
    /// Guarded by the pool's lock.
    private(set) var idleSince = NIODeadline.now()
    private(set) var lastCheckedOrUsed = NIODeadline.now()
    private(set) var linkedClientID: UInt64?
    /// TLS version and cipher of the connection ("" without TLS); on this server's loop only
    /// (SHOW SERVERS reads it through `adminView`).
    private(set) var tlsDescription = ""
    /// Lent, busy or neither, as its pool counts it; read and written only under the pool's lock.
    var poolMembership = PoolMembership.none
    /// Statements prepared on this server under shared server names (transaction pooling).
    var statementCache: ServerStatementCache

    /// What the StartupMessage needs, kept while TLS is negotiated.
    private struct Startup {
        var database: String
        var credentials: ServerCredentials
    }

    private enum Phase {
        case connecting
        /// The SSLRequest is sent; its one-byte answer is awaited.
        case sslRequest(Startup)
        /// The socket went to NIO for the TLS handshake.
        case tlsHandshake(Startup)
        case login(ServerLoginMachine)
        case connectQuery
        case ready
        case internalQuery(completion: (Bool) -> Void, failed: Bool)
        case closed
    }

    private var phase: Phase = .connecting
    private var linkedClient: ClientSession?
    private var inbound: ByteBuffer?
    private var loginTimeout: Scheduled<Void>?
    private var opened = false
    /// What `write` queued since the last flush, not yet handed to NIO.
    private enum Outgoing {
        case nothing
        /// One write, passed on as it is.
        case one(ByteBuffer)
        /// Several writes, copied into `gather`.
        case gathered
    }
    private var outgoing = Outgoing.nothing
    private var gather = ByteBufferAllocator().buffer(capacity: 0)
    private static let gatherLimit = 16 * 1024
    private var gone = false
    /// Reading is off because the linked client's socket is full (see `pauseReading(forClient:)`).
    private var readingPausedForClient = false
    /// CancelRequests sent for this server's backend and not yet answered (the server closes a
    /// cancel connection once it has signalled the backend). Server loop only.
    private var cancelsInFlight = 0
    /// A release that waits for `cancelsInFlight` to reach zero.
    private var releaseAfterCancels: (clean: Bool, reset: Bool)?
    /// Why the proxy closed the connection (nil: the server closed it, or it dropped).
    private var closeReason: String?
    /// The max_db/user_connections slot went back (at eviction, or when the connection ended).
    private let slotReleased = Atomic<Bool>(false)
    private let settings: PoolSettings
    private let maxMessageLength: Int

    var logger: Logger { pool.logger }

    private init(id: UInt64, pool: ServerPool, loop: EventLoop, address: BackendAddress, settings: PoolSettings, maxMessageLength: Int) {
        self.id = id
        self.pool = pool
        self.loop = loop
        self.address = address
        self.settings = settings
        self.maxMessageLength = maxMessageLength
        self.statementCache = ServerStatementCache(capacity: max(1, pool.runtime.config.maxPreparedStatements))
    }

    // MARK: opening

    static func open(pool: ServerPool, address: BackendAddress, database: String, credentials: ServerCredentials,
                     settings: PoolSettings, on loop: EventLoop) {
        let config = pool.runtime.config
        let server = ServerConnection(id: pool.runtime.nextID(), pool: pool, loop: loop, address: address,
                                      settings: settings, maxMessageLength: config.maxPacketSize)
        loop.execute { server.connect(database: database, credentials: credentials) }
    }

    private func connect(database: String, credentials: ServerCredentials) {
        if settings.serverConnectTimeout > 0 {
            loginTimeout = loop.scheduleTask(in: .nanoseconds(Int64(settings.serverConnectTimeout * 1e9))) { [self] in
                // PgBouncer's words ("closing because: connect timeout"), then the detail.
                fail(ErrorFields(sqlState: "08006", message: "connect timeout: no login to \(address.host):\(address.port) within \(settings.serverConnectTimeout) s"))
            }
        }
        guard let reactor = loop as? Reactor else {
            fail(ErrorFields(sqlState: "08006", message: "connect failed: not on a reactor"))
            return
        }
        let startup = Startup(database: database, credentials: credentials)
        // host=/dir (as in libpq and PgBouncer): the server's Unix socket in that folder.
        HostResolver.resolve(address, on: loop).whenComplete { [self] result in
            switch result {
            case .success(let candidates):
                connect(to: candidates[...], on: reactor, startup: startup, lastError: nil)
            case .failure(let error as HostResolver.LookupFailed):
                fail(ErrorFields(sqlState: "08006", message: "server DNS lookup failed: could not resolve \(error.host)"))
            case .failure(let error):
                fail(ErrorFields(sqlState: "08006", message: Self.connectFailure(error, address: address)))
            }
        }
    }

    /// Tries the host's addresses in turn (a name may have an IPv6 and an IPv4 address, and the
    /// server listen on one only).
    private func connect(to candidates: ArraySlice<SocketAddress>, on reactor: Reactor, startup: Startup, lastError: Error?) {
        guard case .connecting = phase else { return }
        guard let target = candidates.first else {
            fail(ErrorFields(sqlState: "08006", message: Self.connectFailure(lastError ?? HostResolver.LookupFailed(host: address.host, reason: "no address"), address: address)))
            return
        }
        let timeout = TimeAmount.nanoseconds(Int64(max(settings.serverConnectTimeout, 0.001) * 1e9))
        Connector.connect(to: target, on: reactor, timeout: timeout).whenComplete { [self] result in
            switch result {
            case .success(let connection):
                guard case .connecting = phase else {
                    connection.close()
                    return
                }
                connected(connection, startup: startup)
            case .failure(let error):
                connect(to: candidates.dropFirst(), on: reactor, startup: startup, lastError: error)
            }
        }
    }

    private func connected(_ connection: SocketConnection, startup: Startup) {
        if address.unixSocketPath == nil {
            for setting in TCPSocketSettings(config: pool.runtime.config).connection {
                try? connection.setOption(setting)
            }
        }
        let socket = SocketTransport(connection)
        transport = socket
        socket.start(owner: self)
        logNewConnection(local: connection.localAddress)
        // server_tls_sslmode: the SSLRequest first, its answer read in `received`.
        let tls = pool.runtime.tls.serverSide
        if TLSPolicy.sendsSSLRequest(tls.mode, overUnixSocket: address.unixSocketPath != nil), tls.context != nil {
            phase = .sslRequest(startup)
            var request = ByteBufferAllocator().buffer(capacity: 8)
            request.writeInteger(Int32(8))
            request.writeInteger(Int32(80_877_103))
            socket.writeAndFlush(request)
        } else {
            sendStartup(startup)
        }
    }

    private func sendStartup(_ startup: Startup) {
        var extra: [(String, String)] = []
        for (name, value) in settings.startupParameters.sorted(by: { $0.key < $1.key }) { extra.append((name, value)) }
        let message = ServerLoginMachine.startupMessage(user: startup.credentials.user, database: startup.database, extra: extra)
        phase = .login(ServerLoginMachine(credentials: startup.credentials))
        transport?.writeAndFlush(message)
    }

    /// The server's answer to the SSLRequest. As in PgBouncer, a TLS setup that fails (a
    /// certificate that does not verify, a server that refuses SSL under require) leaves the
    /// waiting clients queued while the pool retries: a SET or RELOAD that fixes the setup then
    /// serves them.
    private func answeredSSLRequest(_ buffer: inout ByteBuffer, startup: Startup) {
        guard let answer = buffer.readInteger(as: UInt8.self) else { return }
        let tls = pool.runtime.tls.serverSide
        switch TLSPolicy.action(forServerAnswer: answer, mode: tls.mode) {
        case .startTLS:
            // Bytes after 'S' were not encrypted: a man in the middle could have injected them
            // (CVE-2021-23222); refuse rather than read them as the server's.
            guard buffer.readableBytes == 0 else {
                failTLS("server sent unencrypted data after accepting SSL")
                return
            }
            guard let context = tls.context, let socket = transport as? SocketTransport, let descriptor = socket.detach() else {
                failTLS("cannot start TLS")
                return
            }
            phase = .tlsHandshake(startup)
            let (channel, connected) = TLSHandoff.startTLS(descriptor: descriptor, context: context, host: address.host,
                                                           on: pool.runtime.ioGroup, owner: self)
            transport = channel
            connected.whenFailure { [self] error in onLoop { [self] in failTLS("cannot start TLS: \(error)") } }
        case .continuePlaintext:
            guard buffer.readableBytes == 0 else {
                failTLS("server sent data before the StartupMessage")
                return
            }
            sendStartup(startup)
        case .fail(let reason):
            failTLS(reason)
        }
    }

    private func failTLS(_ reason: String) {
        fail(ErrorFields(sqlState: "08006", message: "server \(address.host):\(address.port): \(reason)"), serverAnswered: false)
    }

    /// Why a connection could not be made, for the log and the waiting clients, in PgBouncer's
    /// words, which its users grep for ("server DNS lookup failed" is said where the name is
    /// looked up).
    static func connectFailure(_ error: Error, address: BackendAddress) -> String {
        "connect failed: could not connect to server \(address.host):\(address.port): \(error)"
    }

    /// Login failure: the pool tells waiting clients. `serverAnswered`: the server was reached and
    /// refused the login (not a connection that could not be made, nor a TLS setup that failed).
    private func fail(_ error: ErrorFields, serverAnswered: Bool = false) {
        guard !opened, !gone else { return }
        gone = true
        loginTimeout?.cancel()
        phase = .closed
        transport?.close()
        logClosing(reason: error.message)
        pool.serverFailedToOpen(error, serverAnswered: serverAnswered)
    }

    // MARK: reading

    func received(_ buffer: ByteBuffer) {
        if let client = linkedClient {
            // `clientSharesLoop` was set with `linkedClient`: cheaper than asking the loop.
            if clientSharesLoop {
                client.serverRead(buffer, from: self)
            } else {
                handOver(buffer, to: client)
            }
            return
        }
        if case .sslRequest(let startup) = phase {
            var answer = buffer
            answeredSSLRequest(&answer, startup: startup)
            return
        }
        if inbound == nil {
            inbound = buffer
        } else {
            var copy = buffer
            inbound!.writeBuffer(&copy)
        }
        do {
            while var current = inbound, let frame = try FrameReader.next(from: &current, maxLength: maxMessageLength) {
                inbound = current
                handleOwnFrame(frame)
                if case .closed = phase { return }
            }
            if inbound?.readableBytes == 0 { inbound = nil } else { inbound?.discardReadBytes() }
        } catch {
            logger.error("protocol error from server", metadata: ["server": "\(id)", "error": "\(error)"])
            close(reason: "bad pkt header")
        }
    }

    func readComplete() {
        if let client = linkedClient {
            if clientSharesLoop {
                client.serverReadComplete()
            } else {
                client.loop.execute { client.serverReadComplete() }
            }
        }
    }

    private func handleOwnFrame(_ frame: Frame) {
        let message: BackendMessage?
        do {
            message = try BackendMessage.decode(frame)
        } catch {
            logger.error("malformed message from server", metadata: ["server": "\(id)", "error": "\(error)"])
            close(reason: "bad packet")
            return
        }
        switch phase {
        case .login(var machine):
            guard let message else {
                fail(ErrorFields(sqlState: "08P01", message: "unexpected message from server during login"))
                return
            }
            let action = machine.receive(message)
            phase = .login(machine)
            switch action {
            case .send(let bytes): transport?.writeAndFlush(bytes)
            case .wait: break
            case .fail(let error): fail(error, serverAnswered: true)
            case .ready:
                parameters = machine.parameters
                backendKey = machine.backendKey
                if let query = settings.connectQuery, !query.isEmpty {
                    phase = .connectQuery
                    transport?.writeAndFlush(Self.queryBuffer(query))
                } else {
                    finishOpening()
                }
            }
        case .connectQuery:
            switch message {
            case .errorResponse(let fields)?:
                fail(ErrorFields(sqlState: fields.sqlState ?? "08006", message: "connect_query failed: \(fields.message)"), serverAnswered: true)
            case .readyForQuery?:
                finishOpening()
            case .parameterStatus(let name, let value)?:
                parameters[name] = value
            default:
                break
            }
        case .internalQuery(let completion, let failed):
            switch message {
            case .errorResponse(let fields)?:
                logger.warning("internal query failed on server", metadata: ["server": "\(id)", "sqlstate": "\(fields.sqlState ?? "")"])
                phase = .internalQuery(completion: completion, failed: true)
            case .readyForQuery(let status)?:
                phase = .ready
                completion(!failed && status == .idle)
            case .parameterStatus(let name, let value)?:
                parameters[name] = value
            default:
                break
            }
        case .ready:
            // Idle in the pool: only asynchronous messages are expected.
            switch message {
            case .parameterStatus(let name, let value)?:
                parameters[name] = value
            case .noticeResponse?:
                break
            case .errorResponse(let fields)?:
                logger.warning("idle server sent an error, closing it", metadata: [
                    "server": "\(id)", "sqlstate": "\(fields.sqlState ?? "")", "message": "\(fields.message)",
                ])
                close(reason: "server sent an error while idle: \(fields.message)")
            default:
                if frame.type != BackendType.notificationResponse {
                    logger.warning("unexpected message from idle server, closing it", metadata: ["server": "\(id)"])
                    close(reason: "idle server got dirty")
                }
            }
        case .connecting, .sslRequest, .tlsHandshake, .closed:
            break
        }
    }

    private func finishOpening() {
        loginTimeout?.cancel()
        opened = true
        phase = .ready
        logger.debug("server connection ready", metadata: ["server": "\(id)", "backend": "\(address.host):\(address.port)"])
        pool.serverOpened(self)
    }

    static func queryBuffer(_ sql: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: sql.utf8.count + 6)
        buffer.writeFrontendMessage(.query(sql))
        return buffer
    }

    // MARK: lending

    /// Lends this server to `client`: from now on its bytes go to the client's session.
    func link(to client: ClientSession) {
        // Once per transaction: on the fast path (same loop) no closure is made, so nothing is
        // allocated.
        if loop.inEventLoop {
            linkOnLoop(client)
        } else {
            loop.execute { [self] in linkOnLoop(client) }
        }
    }

    private func linkOnLoop(_ client: ClientSession) {
        guard case .ready = phase, !gone else {
            // Closed while the pool handed it out: the client asks again.
            pool.serverClosed(self)
            client.onLoop { client.serverUnavailable() }
            return
        }
        linkedClient = client
        linkedClientID = client.id
        lastCheckedOrUsed = .now()
        clientSharesLoop = client.loop.inEventLoop
        if clientSharesLoop {
            client.assign(self)
        } else {
            client.loop.execute { [self] in client.assign(self) }
        }
    }

    /// Passes read bytes to a client on another reactor, and stops reading while too many are on
    /// their way (see `handedOver`).
    private func handOver(_ buffer: ByteBuffer, to client: ClientSession) {
        let count = buffer.readableBytes
        client.loop.execute { [self] in
            client.serverRead(buffer, from: self)
            handOverTaken(count)
        }
        let pending = handedOver.wrappingAdd(count, ordering: .acquiringAndReleasing).newValue
        guard pending > Self.handOverLimit, !readingPausedForHandOver.exchange(true, ordering: .acquiringAndReleasing) else {
            return
        }
        transport?.setReading(false)
        // The client's reactor may have taken everything between the count and the flag: it saw
        // no pause then, and nothing would turn reading on again. Checked once the flag is up,
        // whichever of the two clears it resumes.
        if handedOver.load(ordering: .acquiring) <= Self.handOverLimit / 2,
           readingPausedForHandOver.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged,
           !readingPausedForClient {
            transport?.setReading(true)
        }
    }

    /// On the client's reactor: `count` handed-over bytes were taken. Reading resumes once half
    /// the limit or less is on its way.
    private func handOverTaken(_ count: Int) {
        let pending = handedOver.wrappingSubtract(count, ordering: .acquiringAndReleasing).newValue
        guard pending <= Self.handOverLimit / 2,
              readingPausedForHandOver.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged
        else { return }
        onLoop { [self] in
            if !readingPausedForClient { transport?.setReading(true) }
        }
    }

    /// The client is done with this server; `clean` says whether it may be lent again.
    /// `counters`: the client's report for its pool, which is this server's pool, added as the
    /// server goes back (one lock for both).
    func unlink(clean: Bool, reset: Bool = true, counters: PoolCounters? = nil) {
        if loop.inEventLoop {
            unlinkOnLoop(clean: clean, reset: reset, counters: counters)
        } else {
            loop.execute { [self] in unlinkOnLoop(clean: clean, reset: reset, counters: counters) }
        }
    }

    private func unlinkOnLoop(clean: Bool, reset: Bool, counters: PoolCounters?) {
        linkedClient = nil
        linkedClientID = nil
        if readingPausedForClient { pauseReading(forClient: false) }
        lastCheckedOrUsed = .now()
        if cancelsInFlight > 0 {
            // As PgBouncer's "being canceled" state: a cancel still on its way would stop the
            // next client's query, so the server goes back to the pool once every one is done.
            releaseAfterCancels = (clean, reset)
            if let counters { pool.add(counters) }
            return
        }
        pool.release(self, clean: clean && !gone, reset: reset, counters: counters)
    }

    /// Sends a CancelRequest for this server's backend (from any loop), keeping the server from
    /// the pool until the server has taken it.
    func forwardCancel(logger: Logger) {
        onLoop { [self] in
            guard let key = backendKey else { return }
            cancelsInFlight += 1
            CancelForwarder.send(key, to: address, on: pool.runtime.ioGroup.next(), logger: logger) { [self] in
                onLoop { [self] in cancelFinished() }
            }
        }
    }

    private func cancelFinished() {
        cancelsInFlight -= 1
        guard cancelsInFlight == 0, let release = releaseAfterCancels else { return }
        releaseAfterCancels = nil
        pool.release(self, clean: release.clean && !gone, reset: release.reset)
    }

    /// Runs a query whose results nobody sees (server_reset_query, server_check_query).
    func runInternalQuery(_ sql: String, completion: @escaping (Bool) -> Void) {
        onLoop { [self] in
            guard case .ready = phase, let transport, !gone else {
                completion(false)
                return
            }
            phase = .internalQuery(completion: completion, failed: false)
            let upper = sql.uppercased()
            if upper.contains("DISCARD") || upper.contains("DEALLOCATE") { statementCache.removeAll() }
            transport.writeAndFlush(Self.queryBuffer(sql))
        }
    }

    func markIdle() {
        idleSince = .now()
    }

    func markChecked() {
        lastCheckedOrUsed = .now()
    }

    var isUsable: Bool { !gone }

    /// server_lifetime passed; 0 means "use once", as in PgBouncer: the server closes when released.
    func expired(lifetime: Double) -> Bool {
        NIODeadline.now() - createdAt >= .nanoseconds(Int64(max(0, lifetime) * 1e9))
    }

    /// Queues bytes for the server until `flush`. Small writes between two flushes (the
    /// frames of an extended-protocol batch, rewritten one by one) are gathered into one
    /// buffer: copying a few hundred bytes costs far less than one write through NIO's
    /// pipeline each. A single write is passed on as it is, without a copy.
    func write(_ buffer: ByteBuffer) {
        guard transport != nil else { return }
        switch outgoing {
        case .nothing:
            outgoing = .one(buffer)
        case .one(let first) where first.readableBytes + buffer.readableBytes <= Self.gatherLimit:
            gather.clear()
            gather.writeImmutableBuffer(first)
            gather.writeImmutableBuffer(buffer)
            outgoing = .gathered
        case .gathered where gather.readableBytes + buffer.readableBytes <= Self.gatherLimit:
            gather.writeImmutableBuffer(buffer)
        case .one, .gathered:
            sendOutgoing()
            outgoing = .one(buffer)
        }
    }

    /// Flushes what `write` queued; a no-op without a write since the last flush (a client's
    /// read-complete would otherwise walk the pipeline for nothing once per request).
    func flush() {
        if let queued = takeOutgoing() { transport?.writeAndFlush(queued, onOwnLoop: clientSharesLoop) }
    }

    private func sendOutgoing() {
        if let queued = takeOutgoing() { transport?.write(queued, onOwnLoop: clientSharesLoop) }
    }

    /// What `write` queued, as one buffer; nothing is queued afterwards.
    private func takeOutgoing() -> ByteBuffer? {
        defer { outgoing = .nothing }
        switch outgoing {
        case .nothing: return nil
        case .one(let buffer): return buffer
        case .gathered: return gather
        }
    }

    /// Stops or resumes reading for the linked client's back-pressure; called from the client's
    /// loop. Reading resumes when the client lets the server go (`unlinkOnLoop`), so a server never
    /// returns to the pool deaf.
    func pauseReading(forClient paused: Bool) {
        onLoop { [self] in
            guard paused != readingPausedForClient, linkedClient != nil || !paused else { return }
            readingPausedForClient = paused
            transport?.setReading(!paused && !readingPausedForHandOver.load(ordering: .acquiring))
        }
    }

    /// The socket to the server filled up or drained: the linked client stops or resumes sending.
    func writabilityChanged(_ writable: Bool) {
        guard let client = linkedClient else { return }
        client.onLoop { [self] in client.serverWritabilityChanged(writable, from: self) }
    }

    /// Closes the connection; `reason` is what `log_disconnections` reports (PgBouncer's words
    /// where PgBouncer has them: "server lifetime over", "server idle timeout", "evicted", ...).
    func close(reason: String) {
        onLoop { [self] in
            if !opened {
                fail(ErrorFields(sqlState: "08006", message: "server connection closed during login"))
                return
            }
            if closeReason == nil { closeReason = reason }
            phase = .closed
            guard let transport, transport.isActive else {
                channelGone()
                return
            }
            // Counted by the pool until the socket is really closed (`transportClosed`).
            transport.close()
        }
    }

    /// The TCP connection is gone, whoever closed it.
    func channelGone() {
        guard !gone else { return }
        if !opened {
            fail(ErrorFields(sqlState: "08006", message: "server \(address.host):\(address.port) closed the connection during login"))
            return
        }
        gone = true
        phase = .closed
        loginTimeout?.cancel()
        logClosing(reason: closeReason ?? (linkedClient == nil ? "server closed the connection" : "server conn crashed?"))
        pool.serverClosed(self)
        releaseSlotNow()
        if let client = linkedClient {
            linkedClient = nil
            client.onLoop { client.serverLost(self) }
        }
    }

    /// Gives this server's max_db/user_connections slot back, once: an evicted server's slot goes
    /// to the pool that evicted it before the connection has finished closing.
    func releaseSlotNow() {
        guard slotReleased.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        pool.runtime.releaseServerSlot(database: pool.key.database, user: pool.key.user)
    }

    func onLoop(_ body: @escaping () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }
}

extension ServerConnection: TransportOwner {
    func transportReceived(_ bytes: ByteBuffer) {
        received(bytes)
    }

    func transportReadComplete() {
        readComplete()
    }

    func transportWritabilityChanged(_ writable: Bool) {
        writabilityChanged(writable)
    }

    func transportClosed() {
        channelGone()
    }

    func transportTLSEstablished(_ description: String, peerCertificate: [UInt8]?) {
        guard case .tlsHandshake(let startup) = phase else { return }
        tlsDescription = description
        sendStartup(startup)
    }

    func transportTLSFailed(_ error: Error) {
        switch phase {
        case .tlsHandshake:
            failTLS("TLS handshake with the server failed: \(ServerTLSNegotiation.describe(handshakeError: error))")
        default:
            logger.debug("server connection error", metadata: ["server": "\(id)", "error": "\(error)"])
        }
    }
}
