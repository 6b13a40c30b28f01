import Logging
import NIOCore
import PGRelayCore
import PGWire

/// One client connection: its login, then the relay of its messages to whichever server it holds.
/// All state belongs to the client's event loop. Server bytes reach it through `serverRead`, on
/// this loop, while it holds that server.
final class ClientSession: @unchecked Sendable {
    let id: UInt64
    let runtime: ProxyRuntime
    /// The client's socket: an engine connection, or a NIO channel once TLS carries it
    /// (`answerSSLRequest`). Replaced only before login.
    var transport: RelayTransport
    let loop: EventLoop
    let connectedAt = NIODeadline.now()
    let connectedAtWall = Date()
    let isUnixSocket: Bool
    /// The negotiated TLS version, for SHOW CLIENTS:
    /// "TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519" once a TLS handshake is done, "" for
    /// plaintext. Like every field here, read and written on this client's loop only (the admin
    /// views read it through `adminView`).
    var tlsDescription = ""
    /// TLS carries the connection (it was handed to NIO for the handshake).
    var isOverTLS = false
    /// The client's TLS certificate (DER), for auth_type = cert.
    var peerCertificate: [UInt8]?

    private(set) var cancelKey: CancelRequest?
    private(set) var user = ""
    private(set) var database = ""
    private(set) var pool: ServerPool?
    private(set) var mode: PoolMode = .session
    private(set) var server: ServerConnection? {
        // Reading stopped for a server that could not take more ends with that server.
        didSet { if readingPausedForServer, oldValue !== server { pauseReading(forServer: false) } }
    }
    /// The client's reading is off because its server's socket is full (COPY FROM, big Binds).
    private(set) var readingPausedForServer = false
    var applicationName: String { parameters.applicationName ?? "" }
    var remoteDescription: String {
        if let address = transport.remoteAddress, let ip = address.ipAddress { return "\(ip):\(address.port ?? 0)" }
        return "unix"
    }
    var stateDescription: String {
        switch phase {
        case .ready: return server != nil ? "active" : (waitingForServer ? "waiting" : "idle")
        case .closed: return "closed"
        default: return "login"
        }
    }
    var linkedServerID: UInt64? { server?.id }
    /// Past its login (the pool's server_login_retry fast failure is only for such clients: one
    /// still logging in waits for the pool's first server, as in PgBouncer).
    var hasLoggedIn: Bool {
        if case .ready = phase { return true }
        return false
    }
    private(set) var lastRequestAt = NIODeadline.now()
    /// Last time anything moved between this client and its server (for the idle timeouts).
    private var lastActivity = NIODeadline.now()
    private var warnedAboutSessionState = false
    /// Counted against max_db_client_connections / max_user_client_connections (until it leaves).
    private var countedInClientLimits = false
    /// Whether bytes were written to the client since its last flush (`flushClient`).
    private var clientUnflushed = false

    private enum Phase {
        case startup
        /// Waiting for the user's secret (auth_query) and the peer's credentials (Unix socket).
        case resolvingLogin
        // Boxed: the auth machine is ~290 bytes and lives only during login; inline it would
        // make every idle client's session that much larger.
        indirect case authenticating(ClientAuthMachine)
        indirect case awaitingWelcome(prelude: ByteBuffer?)
        case ready
        case console
        case closed
    }

    private var phase: Phase = .startup
    private var inbound: ByteBuffer?
    private var serverInbound: ByteBuffer?
    /// Transaction/statement pooling with prepared statements: client frames are rewritten per
    /// server, and the server's answers are matched against what was sent.
    private var rewriter: PreparedStatementRewriter?
    private var pipeline = ResponsePipeline()
    private var pendingFrames: [Frame] = []
    /// Where the pending frames lie in the bytes they arrived in, while they are one unbroken
    /// run of one read (the usual batch of a transaction-pooled client that holds no server):
    /// `assign` then sends the frames the rewriter passes on unchanged as slices of these bytes,
    /// a few frames in one slice, instead of one by one (each copied into the server's gather
    /// buffer: ~800 instructions per extended-protocol transaction). `start` is where the first
    /// pending frame begins. nil once the pending frames are anything else.
    private var pendingRun: PendingRun?

    struct PendingRun {
        var bytes: ByteBuffer
        var start: Int
    }

    // Read/write splitting.
    /// Reads may go to replicas (the database has replicas and read_write_split is on).
    private var splitReads = false
    /// Where the held (or awaited) server is.
    private(set) var route: QueryRoute = .primary
    private var currentPool: ServerPool?
    private var currentReplica: BackendID?
    /// Session pooling: after the first write or session-state change, only the primary.
    private var pinnedToPrimary = false
    private var readAfterWriteUntil: NIODeadline?
    private var wroteSinceIdle = false
    /// Whether each named prepared statement (and the last unnamed one) only reads.
    private var statementIsRead: [String: Bool] = [:]
    private var unnamedIsRead = false
    /// Frames sent to a replica since it was idle, and whether any answer reached the client: a
    /// read whose replica dies before answering is sent again elsewhere.
    private var inFlightOnReplica: [Frame] = []
    private var answeredSinceDispatch = false
    private var waitingForServer = false
    private(set) var waitStarted: NIODeadline?
    private var parameters: TrackedParameters {
        didSet { parameterSetID = 0 }
    }
    /// `ParameterSetIDs` number of `parameters`; 0 until asked for after a change.
    private var parameterSetID: UInt64 = 0
    private var tracker = TransactionTracker()
    /// ReadyForQuery messages that answer the proxy's own SET, not the client.
    private var swallowReady = 0
    private var requests: [PendingRequest] = []  // arrays: no allocation while empty (memory per idle client)
    private let context: LoopContext
    /// Counters not yet added to the pool's totals (added once per transaction).
    private var counters = PoolCounters()
    /// A transaction ended: `counters` go to the pool with the server given back, or, when no
    /// server goes back now, at the end of the read that ended it (`reportDueCounters`).
    private var countersDue = false
    private var transactionStarted: NIODeadline?
    private var requestFailed = false
    private var lastWaitNanos: UInt64 = 0
    /// Fingerprints of the client's named prepared statements, and of the last unnamed one.
    private var statementFingerprints: [String: String] = [:] {
        didSet { lastBoundFingerprint.forget() }
    }
    private var lastBoundFingerprint = LastNamedLookup<String>()
    private var unnamedFingerprint: String?
    private var batchLabel = RequestLabel()
    /// query_rate_limit: this client's way through its limits (made at its first request while
    /// any limit is configured).
    private var rateGate: QueryRateGate?
    /// SQLSTATE of the ErrorResponse of the request running now, for its span (otlp_endpoint set).
    private var failedSQLState: String?
    /// Labels of received requests not yet sent to a server, in order.
    private var pendingLabels: [RequestLabel] = []

    /// What a request is recorded and logged under: its fingerprint, or (stats off, only slow
    /// queries logged) the statement text, normalized only if the query turns out slow.
    struct RequestLabel {
        var fingerprint: String?
        var sql: ByteBuffer?
        /// The trace context of the request's statement (otlp_endpoint set).
        var trace: TraceParentBox?
    }

    /// A request (Query, Sync or FunctionCall) forwarded and not yet answered by ReadyForQuery.
    struct PendingRequest {
        var started: NIODeadline
        var label: RequestLabel
    }
    private var loginTimeout: Scheduled<Void>?
    private let limits: ProtocolLimits
    private let allocator: ByteBufferAllocator
    var console: AdminConsoleSession?

    var logger: Logger {
        var logger = runtime.logger
        logger[metadataKey: "client"] = "\(id)"
        return logger
    }

    init(runtime: ProxyRuntime, transport: RelayTransport, loop: EventLoop, isUnixSocket: Bool) {
        self.id = runtime.nextID()
        self.runtime = runtime
        self.transport = transport
        self.loop = loop
        self.isUnixSocket = isUnixSocket
        let config = runtime.config
        self.limits = ProtocolLimits(maxMessageLength: config.maxPacketSize, maxStartupPacketLength: config.maxStartupPacketSize)
        self.parameters = runtime.emptyTrackedParameters(extra: config.trackExtraParameters)
        self.allocator = ByteBufferAllocator()
        self.context = runtime.context(of: loop)
    }

    func onLoop(_ body: @escaping () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    // MARK: lifecycle

    func start() {
        cancelKey = runtime.register(self)
        let timeout = runtime.config.clientLoginTimeout
        if timeout > 0 {
            loginTimeout = loop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) { [self] in
                if case .ready = phase { return }
                if case .console = phase { return }
                fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "client_login_timeout"))
            }
        }
    }

    /// The client is gone (or being closed); `reason` is what `log_disconnections` reports.
    func clientClosed(reason: String = ClientSession.unexpectedEOFReason) {
        if case .closed = phase { return }
        phase = .closed
        logDisconnection(reason: reason)
        loginTimeout?.cancel()
        loginTimeout = nil
        runtime.unregister(self)
        if countedInClientLimits { runtime.clientLimits.leave(database: database, user: user) }
        if counters != PoolCounters() { pool?.add(counters) }
        countersDue = false
        if waitingForServer, let pool { pool.cancelWait(for: self) }
        if let server {
            self.server = nil
            let clean = tracker.isIdle && swallowReady == 0 && pipeline.isEmpty && (serverInbound?.readableBytes ?? 0) == 0
            if !clean {
                logger.info("client left with a transaction or request open: closing its server", metadata: ["server": "\(server.id)"])
            }
            server.unlink(clean: clean)
        }
    }

    /// Sends a FATAL-style error and closes.
    func fatal(_ error: ErrorFields) {
        guard transport.isActive else { return }
        logPoolerError(error)
        var buffer = allocator.buffer(capacity: 128)
        buffer.writeErrorResponse(error)
        // Closed first: the write may fail and close the connection at once, and that close
        // would report the client as gone without this reason.
        clientClosed(reason: error.message)
        transport.writeAndFlush(buffer)
        transport.closeAfterError(linger: Self.lingerAfterError)
    }

    /// How long a client closed with an error may go on sending before its connection closes.
    static let lingerAfterError = TimeAmount.seconds(1)

    // Closing a socket that still has unread bytes from the client sends a reset, and a reset
    // makes the client's kernel drop what it has not read yet, the error included ("server
    // closed the connection unexpectedly"). So after an error the proxy half-closes (the client
    // reads the error, then end of file), reads and drops what the client still sends (the
    // session is closed), and closes once the client does or after `lingerAfterError`
    // (`RelayTransport.closeAfterError`).

    func close() {
        transport.close()
    }

    // MARK: client bytes

    func clientRead(_ buffer: ByteBuffer) {
        lastActivity = .now()
        if case .startup = phase, inbound == nil, startsDirectTLS(buffer) { return }
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = buffer
        } else {
            var copy = buffer
            inbound!.writeBuffer(&copy)
        }
        do {
            switch phase {
            case .startup: try readStartup()
            case .authenticating: try readAuthentication()
            case .ready: try relayClientMessages()
            case .console: try readConsole()
            case .awaitingWelcome, .resolvingLogin:
                // The client may not send anything before its login completes; keep it.
                break
            case .closed: inbound = nil
            }
        } catch let error as WireError {
            logger.info("protocol violation from client", metadata: ["error": "\(error)"])
            fatal(ErrorFields(severity: "FATAL", sqlState: error.sqlState, message: error.description))
        } catch {
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "\(error)"))
        }
        if let current = inbound, current.readableBytes == 0 { inbound = nil }
    }

    func clientReadComplete() {
        server?.flush()
    }

    // MARK: startup

    private func readStartup() throws {
        guard var buffer = inbound, let packet = try StartupPacketReader.next(from: &buffer, maxLength: limits.maxStartupPacketLength) else {
            return
        }
        inbound = buffer
        switch packet {
        case .sslRequest, .gssEncRequest:
            // Bytes sent after the request but before our answer must not be trusted (CVE-2021-3935).
            if buffer.readableBytes > 0 {
                throw WireError.malformed(type: nil, reason: "unexpected data after encryption request")
            }
            if case .sslRequest = packet {
                try answerSSLRequest()
            } else {
                var answer = allocator.buffer(capacity: 1)
                answer.writeInteger(UInt8(ascii: "N"))
                transport.writeAndFlush(answer)
            }
        case .cancel(let request):
            phase = .closed
            runtime.unregister(self)
            if let target = runtime.client(forCancelKey: request) {
                target.onLoop { target.cancelRunningQuery() }
            }
            close()
        case .startup(let message):
            guard startupAllowedByTLS() else { return }
            try startLogin(message)
        }
    }

    private func startLogin(_ message: StartupMessage) throws {
        let config = runtime.config
        var unrecognized: [String] = []
        var refusal: String?
        func ignored(_ name: String) -> Bool {
            config.ignoreStartupParameters.contains { $0.caseInsensitiveCompare(name) == .orderedSame }
        }
        for (name, value) in message.parameters where refusal == nil {
            switch name {
            case "user": user = value
            case "database": database = value
            case "options":
                // As PgBouncer: tracked settings in `-c name=value` form are taken, ignored ones
                // dropped (all unknown ones when "options" itself is ignored), others refused.
                do {
                    for (key, setting) in try StartupOptions.parse(value) {
                        if parameters.canonicalName(key) != nil {
                            parameters.set(key, setting)
                        } else if !ignored(key), !ignored("options") {
                            refusal = "unsupported startup parameter in options: \(key)"
                            break
                        }
                    }
                } catch let failure as StartupOptions.Failure {
                    refusal = failure.message
                } catch {
                    refusal = "\(error)"
                }
            case _ where name.hasPrefix("_pq_."): unrecognized.append(name)
            case _ where parameters.canonicalName(name) != nil: parameters.set(name, value)
            case _ where ignored(name): break
            default: refusal = "unsupported startup parameter: \(name)"
            }
        }
        if database.isEmpty { database = user }
        if config.applicationNameAddHost {
            // As PgBouncer: "app" stands in for a missing name, then " - <addr>:<port>".
            parameters.set("application_name", "\(parameters.value("application_name") ?? "app") - \(remoteDescription)")
        }
        guard !user.isEmpty else {
            fatal(ErrorFields(severity: "FATAL", sqlState: "28000", message: "no PostgreSQL user name specified in startup packet"))
            return
        }
        if let refusal {
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: refusal))
            return
        }
        if message.protocolMinor > 0 || !unrecognized.isEmpty {
            var buffer = allocator.buffer(capacity: 32)
            buffer.writeNegotiateProtocolVersion(newestMinor: 0, unrecognized: unrecognized)
            writeToClient(buffer)
        }
        if runtime.clientCount > config.maxClientConn {
            fatal(ErrorFields(severity: "FATAL", sqlState: "53300", message: "no more connections allowed (max_client_conn)"))
            return
        }
        let isConsole = AdminConsoleSession.databaseNames.contains(database)
        phase = .resolvingLogin
        let peer = loop.makeSucceededFuture(isUnixSocket ? PeerCredentials.uid(of: transport) : nil)
        peer.hop(to: loop).whenComplete { [self] peerResult in
            guard case .resolvingLogin = phase else { return }
            let peerUID = (try? peerResult.get()) ?? nil
            // The OS user running pgrelay opens the console over the Unix socket without a
            // password, and without any lookup (as PgBouncer's admin_pre_login).
            if isConsole, let peerUID, peerUID == geteuid(), AdminConsoleSession.isLocalOwner(user: user) {
                beginAuthentication(method: .any, lookup: .unknown)
                return
            }
            runtime.lookupUser(user, database: database).hop(to: loop).whenComplete { [self] result in
                guard case .resolvingLogin = phase else { return }
                switch result {
                case .success(let lookup):
                    beginAuthentication(peerUID: peerUID, lookup: lookup)
                case .failure(let refusal as LoginRefusal):
                    if let line = refusal.log { logger.error("\(line)", metadata: ["user": "\(user)", "database": "\(database)"]) }
                    fatal(refusal.error)
                case .failure(let error):
                    fatal(ErrorFields(severity: "FATAL", sqlState: "28000", message: "\(error)"))
                }
            }
        }
    }

    /// `auth_type = peer` admits a Unix-socket client whose OS user name is the user it asks for,
    /// `auth_type = cert` a client whose TLS certificate names the user (that user must still be
    /// known, as with trust).
    private func beginAuthentication(peerUID: uid_t?, lookup: UserLookup) {
        var method = runtime.config.authType
        if method == .peer, isUnixSocket {
            guard let peerUID, PeerCredentials.userName(of: peerUID) == user else {
                fatal(ErrorFields(severity: "FATAL", sqlState: "28000", message: "peer authentication failed for user \"\(user)\""))
                return
            }
            method = .trust
        } else if method == .cert, lookup != .notFound {
            // auth_query finding no such role is refused by the machine first, as in PgBouncer.
            guard admittedByCertificate(userKnown: lookup.isKnown) else { return }
            method = .trust
        }
        beginAuthentication(method: method, lookup: lookup)
    }

    private func beginAuthentication(method: AuthType, lookup: UserLookup) {
        var machine = ClientAuthMachine(method: method, user: user, lookup: lookup, scramIterations: runtime.config.scramIterations)
        handleAuth(machine.start(), machine: &machine)
    }

    private func readAuthentication() throws {
        guard case .authenticating(var machine) = phase else { return }
        guard var buffer = inbound, let frame = try FrameReader.next(from: &buffer, maxLength: limits.maxStartupPacketLength) else {
            return
        }
        inbound = buffer
        guard frame.type == FrontendType.password else {
            throw WireError.malformed(type: frame.type, reason: "expected a password message")
        }
        handleAuth(machine.receive(password: frame.body), machine: &machine)
    }

    private func handleAuth(_ outcome: ClientAuthMachine.Outcome, machine: inout ClientAuthMachine) {
        switch outcome {
        case .send(let request):
            phase = .authenticating(machine)
            transport.writeAndFlush(request)
        case .reject(let error):
            logger.info("client authentication failed", metadata: ["user": "\(user)", "database": "\(database)"])
            fatal(error)
        case .authenticated(let prelude, let keys):
            if let keys, case .scram? = runtime.secret(for: user) {
                runtime.rememberSCRAMKeys(keys, for: user)
            }
            authenticated(prelude: prelude)
        }
    }

    private func authenticated(prelude: ByteBuffer?) {
        if AdminConsoleSession.databaseNames.contains(database) {
            startConsole(prelude: prelude)
            return
        }
        if runtime.isShuttingDown {
            // While a shutdown waits, the Unix socket still takes console logins only.
            fatal(ErrorFields(severity: "FATAL", sqlState: "57P01", message: "pooler is shutting down"))
            return
        }
        guard let pool = runtime.pool(database: database, user: user), !pool.isRetired else {
            fatal(ErrorFields(severity: "FATAL", sqlState: "3D000", message: "no such database: \(database)"))
            return
        }
        if runtime.isDisabled(database: database) {
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "database \"\(database)\" is disabled"))
            return
        }
        admitToClientLimits(console: false) { [self] in join(pool, prelude: prelude) }
    }

    /// max_db_client_connections / max_user_client_connections: a refusal is checked once more
    /// after `clientLimitRecheck`. A client of the same user or database that has just left may
    /// still be counted: its Terminate is read on another event loop at the same moment, where
    /// PgBouncer's single thread would have seen it first.
    private func admitToClientLimits(console: Bool, retried: Bool = false, then admitted: @escaping () -> Void) {
        let limits = runtime.clientLimits
        let refusal = console ? limits.admitConsole(database: database, user: user, config: runtime.config)
            : limits.admit(database: database, user: user, config: runtime.config)
        guard let refusal else {
            countedInClientLimits = true
            admitted()
            return
        }
        guard retried else {
            loop.scheduleTask(in: Self.clientLimitRecheck) { [self] in
                if case .closed = phase { return }
                admitToClientLimits(console: console, retried: true, then: admitted)
            }
            return
        }
        logger.info("client refused: \(refusal.error.message)", metadata: ["user": "\(user)", "database": "\(database)"])
        fatal(refusal.error)
    }

    static let clientLimitRecheck = TimeAmount.milliseconds(100)

    private func join(_ pool: ServerPool, prelude: ByteBuffer?) {
        self.pool = pool
        self.mode = pool.settings.poolMode
        let config = runtime.config
        if mode != .session, config.maxPreparedStatements > 0 {
            rewriter = PreparedStatementRewriter()
        }
        splitReads = config.readWriteSplit && pool.entry.needsHealthChecks
        if let welcome = pool.welcome {
            finishLogin(prelude: prelude, welcome: welcome)
        } else {
            phase = .awaitingWelcome(prelude: prelude)
            requestServer()
        }
    }

    private func finishLogin(prelude: ByteBuffer?, welcome: [(name: String, value: String)]) {
        loginTimeout?.cancel()
        loginTimeout = nil
        var buffer = allocator.buffer(capacity: 512)
        if var prelude { buffer.writeBuffer(&prelude) }
        buffer.writeAuthenticationRequest(.ok)
        var expected = parameters
        for (name, value) in welcome {
            let shown = parameters.value(name) ?? value
            buffer.writeParameterStatus(name: name, value: shown)
            if parameters.value(name) == nil { expected.set(name, value) }
        }
        let interned = runtime.parameterSets.intern(expected.values)
        expected.shareValues(with: interned.values)
        parameters = expected
        parameterSetID = interned.id
        if let key = cancelKey { buffer.writeBackendKeyData(key) }
        buffer.writeReadyForQuery(.idle)
        phase = .ready
        transport.writeAndFlush(buffer)
        logger.debug("client logged in", metadata: ["user": "\(user)", "database": "\(database)"])
        logLogin()
        if inbound != nil { try? relayClientMessages() }
    }

    // MARK: relay: client to server

    private func relayClientMessages() throws {
        guard var buffer = inbound else { return }
        var index = buffer.readerIndex
        var runStart = index
        // For `pendingRun`: the end of the frame last made pending in this read, and where the
        // pending frames begin when the first of them is of this read. The run is only made at
        // the second frame: a single pending frame (a simple Query) needs none.
        var lastPendingEnd: Int?
        var pendingStartHere: Int?
        relay: while let length = try FrameReader.frameLength(in: buffer, at: index, maxLength: limits.maxMessageLength) {
            let type = buffer.getInteger(at: index, as: UInt8.self)!
            if context.settings.rateLimited {
                switch passRateLimit(type) {
                case .forward: break
                case .hold: break relay
                case .drop:
                    forward(buffer, from: runStart, to: index)
                    runStart = index + length
                    index += length
                    continue relay
                }
            }
            if type == FrontendType.terminate {
                forward(buffer, from: runStart, to: index)
                inbound = nil
                terminate()
                return
            }
            if type == FrontendType.query, context.settings.refusesSimpleQuery {
                // PgBouncer's words and code for disable_pqexec. Frames of this read before the
                // Query are dropped too: the client is closed.
                inbound = nil
                fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "PQexec disallowed"))
                return
            }
            noteClientMessage(type, buffer, at: index, length: length)
            let frame = Frame(type: type, bytes: buffer.getSlice(at: index, length: length)!)
            if server != nil, pendingFrames.isEmpty, fitsRoute(frame) {
                try relayInRun(frame, of: buffer, at: index, runStart: &runStart)
            } else {
                forward(buffer, from: runStart, to: index)
                runStart = index + length
                if pendingFrames.isEmpty {
                    pendingStartHere = index
                    pendingRun = nil
                } else if lastPendingEnd == index, let start = pendingStartHere {
                    if pendingRun == nil { pendingRun = PendingRun(bytes: buffer, start: start) }
                } else {
                    pendingStartHere = nil
                    pendingRun = nil
                }
                lastPendingEnd = index + length
                pendingFrames.append(frame)
            }
            index += length
        }
        forward(buffer, from: runStart, to: index)
        if server != nil {
            finishDispatch()
        } else if !pendingFrames.isEmpty, !(try answerPreparesLocally()) {
            requestServer()
        }
        buffer.moveReaderIndex(to: index)
        // Only the unread tail is kept (see serverRead): a COPY FROM stream whose reads end
        // mid-message would otherwise keep every byte relayed before it.
        inbound = buffer.readableBytes > 0 ? buffer.slice() : nil
        lastRequestAt = .now()
    }

    private enum RateOutcome { case forward, hold, drop }

    /// query_rate_limit (`QueryRateGate`): a message over the limit is held (reading stops until
    /// its turn, then the held bytes are read again) or dropped with 53400.
    private func passRateLimit(_ type: UInt8) -> RateOutcome {
        let gate = rateGate ?? QueryRateGate(limits: runtime.rateLimits)
        rateGate = gate
        let decision = gate.admit(type, user: user, database: database, clock: { Int64(NIODeadline.now().uptimeNanoseconds) }) {
            tracker.isIdle && requests.isEmpty && pendingFrames.isEmpty && pipeline.isEmpty && swallowReady == 0
        }
        switch decision {
        case .pass: return .forward
        case .stillHolding: return .hold
        case .hold(let until):
            holdReads(untilNanos: until)
            return .hold
        case .discard, .refuse, .endDiscard:
            var answer = allocator.buffer(capacity: 0)
            if let error = decision.reply(to: type, into: &answer) { logPoolerError(error) }
            guard answer.readableBytes > 0 else { return .drop }
            counters.bytesSent &+= UInt64(answer.readableBytes)
            writeToClient(answer)
            flushClient()
            return .drop
        }
    }

    /// Tracker, timing and routing bookkeeping for a frame that goes to the held server now.
    private func startRequest(_ frame: Frame) {
        if splitReads {
            let read = isRead(frame)
            if route == .primary, read == false {
                wroteSinceIdle = true
                if mode == .session { pinnedToPrimary = true }
            }
            if route == .replica, tracker.status == .idle { inFlightOnReplica.append(frame) }
        }
        let startsTransaction = tracker.outstanding == 0 && tracker.status == .idle && transactionStarted == nil
        if tracker.clientSent(frame.type) {
            let now = NIODeadline.now()
            if startsTransaction { transactionStarted = now }
            requests.append(PendingRequest(started: now, label: takePendingLabel()))
            if splitReads, let backend = currentBackendID {
                runtime.routing.recordQuery(route: route == .replica ? .replica : .primary, backend: backend)
            }
        }
    }

    /// Whether a frame may go to the held server: anything may go to the primary, and inside a
    /// transaction or an unfinished batch everything stays where it is; otherwise a replica only
    /// gets statements that read.
    /// The label of the oldest request not yet sent; O(1) for the usual single one (removeFirst
    /// shifts the array).
    private func takePendingLabel() -> RequestLabel {
        switch pendingLabels.count {
        case 0: return RequestLabel()
        case 1: return pendingLabels.removeLast()
        default: return pendingLabels.removeFirst()
        }
    }

    private func fitsRoute(_ frame: Frame) -> Bool {
        route == .primary || tracker.status != .idle || tracker.batchOpen || isRead(frame) != false
    }

    /// Whether the statement a frame carries only reads: nil for frames that carry none.
    private func isRead(_ frame: Frame) -> Bool? {
        switch frame.type {
        case FrontendType.query:
            guard let sql = frame.bytes.getString(at: frame.bytes.readerIndex + 5, length: max(0, frame.bytes.readableBytes - 6)) else {
                return false
            }
            return Self.routesAsRead(context.classifications.classify(sql))
        case FrontendType.parse:
            guard case .parse(let parse)? = try? FrontendMessage.decode(frame) else { return false }
            return parse.name.isEmpty ? unnamedIsRead : (statementIsRead[parse.name] ?? false)
        case FrontendType.bind:
            guard let statement = StatementNamePeek.boundStatementName(of: frame) else { return false }
            return statement.isEmpty ? unnamedIsRead : (statementIsRead[statement] ?? false)
        case FrontendType.functionCall:
            return false
        default:
            return nil
        }
    }

    static func routesAsRead(_ classification: SQLClassification) -> Bool {
        if let hint = classification.hint { return hint == .replica }
        if classification.beginsTransaction {
            return classification.readOnlyTransaction && (classification.statementCount == 1 || classification.isRead)
        }
        return classification.isRead
    }

    private var currentBackendID: BackendID? {
        if route == .replica { return currentReplica }
        // The server's own address: a `host=` list or `hosts=` pool connects to more than one.
        guard let address = server?.address ?? currentPool?.key.address ?? pool?.key.address else { return nil }
        return BackendID(database: pool?.entryName ?? database, address: address, role: .primary)
    }

    /// Bookkeeping for one client message about to be forwarded: the transaction tracker, request
    /// timing, the fingerprint the request will be recorded under, and the counters.
    private func noteClientMessage(_ type: UInt8, _ buffer: ByteBuffer, at index: Int, length: Int) {
        counters.bytesReceived &+= UInt64(length)
        if context.settings.tracing {
            batchLabel.trace = context.tracer.traceParent(inFrame: type, buffer, at: index, length: length) ?? batchLabel.trace
        }
        let wantsFingerprint = context.settings.wantsFingerprints
        switch type {
        case FrontendType.query:
            let textStart = index + 5, textLength = max(0, length - 6)
            // Only statements that name LISTEN, an advisory lock or HOLD can hold session state.
            let fingerprintNow = context.settings.fingerprintsEveryQuery
            let mayCheckSessionState = mode != .session && !warnedAboutSessionState
            var checkSessionState = false
            if fingerprintNow || mayCheckSessionState {
                let offset = textStart - buffer.readerIndex
                buffer.withUnsafeReadableBytes { readable in
                    let text = UnsafeRawBufferPointer(rebasing: readable[offset ..< offset + textLength])
                    if fingerprintNow {
                        let known = context.fingerprints.fingerprintAndMentions(utf8: text)
                        batchLabel.fingerprint = known.fingerprint
                        checkSessionState = mayCheckSessionState && known.mayMentionSessionState
                    } else {
                        checkSessionState = mayCheckSessionState && SessionStateMentions.mayMention(text)
                    }
                }
            }
            if checkSessionState, let sql = buffer.getString(at: textStart, length: textLength) {
                warnIfSessionState(sql)
            }
            if wantsFingerprint, !fingerprintNow { batchLabel.sql = buffer.getSlice(at: textStart, length: textLength) }
        case FrontendType.parse:
            // PgBouncer's client_parse_count and bind_count: named statements the proxy tracks
            // (transaction and statement pooling with max_prepared_statements), nothing else.
            if rewriter != nil, let frame = buffer.getSlice(at: index, length: length),
               StatementNamePeek.target(of: Frame(type: type, bytes: frame)) != .unnamedStatement {
                counters.clientParses &+= 1
            }
            if !splitReads {
                if wantsFingerprint { noteParseFingerprint(buffer, at: index, length: length) }
            } else if let frame = buffer.getSlice(at: index, length: length),
                      case .parse(let parse)? = try? FrontendMessage.decode(Frame(type: type, bytes: frame)) {
                // One decode serves both the route and the fingerprint of the statement.
                let read = Self.routesAsRead(context.classifications.classify(parse.query))
                if parse.name.isEmpty { unnamedIsRead = read } else { statementIsRead[parse.name] = read }
                if wantsFingerprint {
                    let fingerprint = context.fingerprints.fingerprint(parse.query)
                    if parse.name.isEmpty { unnamedFingerprint = fingerprint } else { statementFingerprints[parse.name] = fingerprint }
                    batchLabel.fingerprint = fingerprint
                }
            }
        case FrontendType.bind:
            // One peek at the statement's name serves the bind counter and the fingerprint; the
            // rewriter decodes the whole message (and refuses a malformed one).
            guard rewriter != nil || wantsFingerprint else { break }
            let offset = index - buffer.readerIndex
            buffer.withUnsafeReadableBytes { readable in
                let frame = UnsafeRawBufferPointer(rebasing: readable[offset ..< offset + length])
                guard let name = StatementNamePeek.boundStatement(frameBytes: frame) else { return }
                if rewriter != nil, !name.isEmpty { counters.binds &+= 1 }
                if wantsFingerprint {
                    batchLabel.fingerprint = name.isEmpty ? unnamedFingerprint : fingerprint(ofStatementNamed: UnsafeRawBufferPointer(rebasing: frame[name]))
                }
            }
        case FrontendType.close:
            if let frame = buffer.getSlice(at: index, length: length),
               case .close(let target)? = try? FrontendMessage.decode(Frame(type: type, bytes: frame)), target.kind == .statement {
                statementFingerprints[target.name] = nil
            }
        default:
            break
        }
        if type == FrontendType.sync || type == FrontendType.query || type == FrontendType.functionCall {
            pendingLabels.append(batchLabel)
            batchLabel = RequestLabel()
        }
    }

    /// The fingerprint of the client's prepared statement `name` (its bytes in a Bind).
    private func fingerprint(ofStatementNamed name: UnsafeRawBufferPointer) -> String? {
        if let known = lastBoundFingerprint.value(named: name) { return known }
        guard let fingerprint = statementFingerprints[String(decoding: name, as: UTF8.self)] else { return nil }
        lastBoundFingerprint.remember(fingerprint, named: name)
        return fingerprint
    }

    /// The fingerprint of a Parse's statement, from its text in the received bytes (no decode,
    /// no String of the text): what the batch is recorded under, and the statement's label for
    /// its later Binds.
    private func noteParseFingerprint(_ buffer: ByteBuffer, at index: Int, length: Int) {
        let offset = index - buffer.readerIndex
        let noted: (name: String, fingerprint: String)? = buffer.withUnsafeReadableBytes { readable in
            let frame = UnsafeRawBufferPointer(rebasing: readable[offset ..< offset + length])
            guard let texts = StatementNamePeek.parseTexts(type: FrontendType.parse, frameBytes: frame) else { return nil }
            let fingerprint = context.fingerprints.fingerprint(utf8: UnsafeRawBufferPointer(rebasing: frame[texts.query]))
            return (String(decoding: UnsafeRawBufferPointer(rebasing: frame[texts.name]), as: UTF8.self), fingerprint)
        }
        guard let noted else { return }
        if noted.name.isEmpty { unnamedFingerprint = noted.fingerprint } else { statementFingerprints[noted.name] = noted.fingerprint }
        batchLabel.fingerprint = noted.fingerprint
    }

    /// LISTEN, session advisory locks and WITH HOLD cursors outlive a transaction, which transaction
    /// pooling cannot honour: say so once per client.
    private func warnIfSessionState(_ sql: String) {
        let classification = context.classifications.classify(sql)
        guard classification.isListen || classification.setsSessionState else { return }
        let upper = sql.uppercased()
        let what: String
        if classification.isListen {
            what = "LISTEN"
        } else if upper.contains("PG_ADVISORY_LOCK") || upper.contains("PG_TRY_ADVISORY_LOCK") {
            what = "a session-level advisory lock"
        } else if upper.contains("WITH HOLD") {
            what = "a WITH HOLD cursor"
        } else {
            return
        }
        warnedAboutSessionState = true
        logger.warning("client uses \(what) in \(mode.rawValue) pooling mode: it will not survive the end of the transaction",
                       metadata: ["user": "\(user)", "database": "\(database)", "application_name": "\(applicationName)"])
    }

    /// Writes a run of frames already accounted for (startRequest) to the held server.
    private func forward(_ buffer: ByteBuffer, from start: Int, to end: Int) {
        guard end > start, let slice = buffer.getSlice(at: start, length: end - start), let server else { return }
        server.write(slice)
    }

    private func terminate() {
        // Before close(): the transport's close reports the client gone, without this reason.
        clientClosed(reason: ClientSession.closeRequestReason)
        close()
    }

    // MARK: relay with prepared statements (transaction/statement pooling)

    /// One frame of a run of received bytes (`bytes` from `runStart`) for the held server. A
    /// frame that goes as it is stays in the run and leaves with its neighbours as one slice of
    /// the received bytes (a Parse/Bind/Execute/Sync batch of the unnamed statement is one
    /// uncopied write); one the rewriter replaces or answers itself ends the run before it. The
    /// caller writes the rest of the run (`forward`) after its last frame.
    private func relayInRun(_ frame: Frame, of bytes: ByteBuffer, at index: Int, runStart: inout Int) throws {
        guard rewriter != nil else {
            startRequest(frame)
            return
        }
        let outcome = try rewrite(frame)
        if case .relayAsReceived = outcome { return }
        forward(bytes, from: runStart, to: index)
        if case .replaced(let replacement) = outcome, replacement.readableBytes > 0 { server?.write(replacement) }
        runStart = index + frame.bytes.readableBytes
    }

    /// Sends one client frame to the held server, rewritten for that server's prepared statements.
    private func dispatch(_ frame: Frame) throws {
        switch try rewrite(frame) {
        case .relayAsReceived: server?.write(frame.bytes)
        case .replaced(let bytes): if bytes.readableBytes > 0 { server?.write(bytes) }
        case .taken: break
        }
    }

    /// What becomes of a client frame on the held server.
    private enum Rewritten {
        /// Its bytes go to the server as they are.
        case relayAsReceived
        /// These bytes go instead (none when the proxy answers it itself).
        case replaced(ByteBuffer)
        /// Nothing goes now: kept for later, or answered by the proxy.
        case taken
    }

    /// Runs one client frame through the prepared-statement rewriter for the held server; the
    /// caller writes what it says.
    private func rewrite(_ frame: Frame) throws -> Rewritten {
        guard let server, rewriter != nil else {
            pendingFrames.append(frame)
            pendingRun = nil
            return .taken
        }
        var discardAll = false
        if frame.type == FrontendType.query, let first = frame.bytes.getInteger(at: frame.bytes.readerIndex + 5, as: UInt8.self),
           first | 0x20 == UInt8(ascii: "d") || first == UInt8(ascii: " ") || first == UInt8(ascii: "\n") || first == UInt8(ascii: "/") {
            if let sql = frame.bytes.getString(at: frame.bytes.readerIndex + 5, length: max(0, frame.bytes.readableBytes - 6)) {
                let classification = context.classifications.classify(sql)
                // DEALLOCATE of a name the proxy does not know goes on to the server, which answers with its error.
                if classification.statementCount == 1, rewriter!.deallocate(classification.deallocate, pipeline: &pipeline) {
                    startRequest(frame)
                    return .taken
                }
                discardAll = classification.isDiscardAll
            }
        }
        startRequest(frame)
        let serverParsesBefore = rewriter!.serverParses
        defer { counters.serverParses &+= rewriter!.serverParses &- serverParsesBefore }
        let outcome = try rewriter!.handle(frame, cache: &server.statementCache, pipeline: &pipeline) { [runtime] query, types in
            runtime.statementNames.name(for: query, types: types)
        }
        if discardAll {
            rewriter!.forgetAll()
            server.statementCache.removeAll()
        }
        switch outcome {
        case .passThrough: return .relayAsReceived
        case .rewritten(let bytes): return .replaced(bytes)
        }
    }

    /// A client without a server and outside a transaction that only prepares statements (named
    /// Parse messages, then Sync) is answered by the proxy: the statements reach a server at their
    /// first use. libpq's PQprepare blocks its thread until answered, and a thread of pgbench
    /// blocked on a free server while its other clients hold every server inside their
    /// transactions would wait forever.
    private func answerPreparesLocally() throws -> Bool {
        guard server == nil, !waitingForServer, tracker.isIdle,
              let last = pendingFrames.last, last.type == FrontendType.sync, pendingFrames.count >= 2,
              pendingFrames.dropLast().allSatisfy({ $0.type == FrontendType.parse })
        else { return false }
        for frame in pendingFrames.dropLast() {
            guard case .parse(let parse)? = try FrontendMessage.decode(frame), !parse.name.isEmpty else { return false }
        }
        var out = allocator.buffer(capacity: 6 * pendingFrames.count + 6)
        for frame in pendingFrames.dropLast() {
            _ = try rewriter!.registerWithoutServer(frame) { [runtime] query, types in
                runtime.statementNames.name(for: query, types: types)
            }
            out.writeEmptyBackendMessage(BackendType.parseComplete)
        }
        out.writeReadyForQuery(.idle)
        pendingFrames.removeAll()
        pendingRun = nil
        if !pendingLabels.isEmpty { pendingLabels.removeFirst() }
        counters.bytesSent &+= UInt64(out.readableBytes)
        transport.writeAndFlush(out)
        return true
    }

    /// After a batch of client frames: answers the proxy owes now (nothing before them is
    /// outstanding) go out, and a made-up ReadyForQuery may free the server.
    private func finishDispatch() {
        guard rewriter != nil else {
            maybeReleaseServer()
            return
        }
        var out = allocator.buffer(capacity: 0)
        pipeline.drainFakes(into: &out)
        if out.readableBytes > 0 {
            counters.bytesSent &+= UInt64(out.readableBytes)
            transport.writeAndFlush(out)
        }
        completeFakeReadies()
        maybeReleaseServer()
        reportDueCounters()
    }

    private func completeFakeReadies() {
        for _ in 0..<pipeline.takeFakeReadies() {
            tracker.serverReady(pipeline.status)
            requestFinished(status: pipeline.status)
        }
    }

    private func requestServer() {
        guard !waitingForServer, server == nil, let primary = pool else { return }
        if runtime.shutdownMode == .waitForServers {
            // PgBouncer's SHUTDOWN WAIT_FOR_SERVERS: nobody gets a server any more.
            shutdownClose()
            return
        }
        var target = primary
        route = .primary
        currentReplica = nil
        if splitReads, !pinnedToPrimary, pendingIsReadOnly(), readAfterWriteUntil.map({ NIODeadline.now() >= $0 }) ?? true,
           let replica = runtime.routing.chooseReplica(database: primary.entryName, outstanding: { [runtime, database, user] address in
               runtime.existingPool(database: database, user: user, address: address)?.counts().active ?? 0
           }),
           let replicaPool = runtime.pool(database: database, user: user, address: replica.id.address) {
            target = replicaPool
            route = .replica
            currentReplica = replica.id
        }
        if mode == .session, route == .primary, splitReads, pendingFrames.contains(where: { isRead($0) == false }) {
            pinnedToPrimary = true
        }
        currentPool = target
        waitingForServer = true
        waitStarted = .now()
        if case .awaitingWelcome = phase {
            target.acquire(for: self, forWelcome: true)
        } else {
            target.acquire(for: self)
        }
    }

    /// The pool learned its welcome parameters while this client asked for a server to get
    /// them: the login ends without one. Two clients logging in at once on two reactors would
    /// otherwise each hold the first server in turn, and the queries right after their logins
    /// open servers that PgBouncer never opens.
    func welcomeKnown(_ welcome: [(name: String, value: String)]) {
        waitingForServer = false
        waitStarted = nil
        guard case .awaitingWelcome(let prelude) = phase else { return }
        finishLogin(prelude: prelude, welcome: welcome)
    }

    /// Every statement waiting to be sent only reads (and there is at least one).
    private func pendingIsReadOnly() -> Bool {
        var sawRead = false
        for frame in pendingFrames {
            switch isRead(frame) {
            case false?: return false
            case true?: sawRead = true
            case nil: break
            }
        }
        return sawRead
    }

    // MARK: server assignment (called on this loop)

    func assign(_ server: ServerConnection) {
        waitingForServer = false
        if let waitStarted {
            lastWaitNanos = UInt64(max(0, (NIODeadline.now() - waitStarted).nanoseconds))
            counters.waitMicros &+= lastWaitNanos / 1000
            self.waitStarted = nil
        }
        switch phase {
        case .closed:
            server.unlink(clean: true)
            return
        case .awaitingWelcome(let prelude):
            self.server = server
            let welcome = server.parameters.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
            finishLogin(prelude: prelude, welcome: welcome)
            if pendingFrames.isEmpty, mode != .session || route == .replica {
                releaseServer()
                return
            }
        default:
            self.server = server
        }
        // A client that cannot take more stops the server it now holds, as it would have
        // stopped the one before.
        if !transport.isWritable { server.pauseReading(forClient: true) }
        if parameterSetID == 0 { parameterSetID = runtime.parameterSets.id(for: parameters.values) }
        if server.matchedParameterSet != parameterSetID {
            let differences = parameters.differences(from: server.parameters)
            if !differences.isEmpty {
                server.write(ServerConnection.queryBuffer(TrackedParameters.setStatement(differences)))
                swallowReady += 1
            } else {
                // Nothing to bring over. After a SET, its ParameterStatus answers update the
                // server's values, which forgets the match until the next comparison.
                server.matchedParameterSet = parameterSetID
            }
        }
        answeredSinceDispatch = false
        do {
            try dispatchPendingFrames(to: server)
        } catch {
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "\(error)"))
            return
        }
        server.flush()
        finishDispatch()
    }

    /// Sends the pending frames that fit the route to `server`, in order. While they are one run
    /// of received bytes (`pendingRun`), frames that go as they are leave as slices of it, one
    /// per unbroken stretch.
    private func dispatchPendingFrames(to server: ServerConnection) throws {
        if let run = pendingRun {
            pendingRun = nil
            let left = try dispatchRun(run)
            // Frames of the run that do not fit the route stay pending, still one run.
            if left.count > 0, left.count == pendingFrames.count {
                pendingRun = PendingRun(bytes: run.bytes, start: left.start)
            }
        }
        while let frame = pendingFrames.first, fitsRoute(frame) {
            pendingFrames.removeFirst()
            if rewriter != nil {
                try dispatch(frame)
            } else {
                startRequest(frame)
                server.write(frame.bytes)
            }
        }
    }

    /// The frames of `run` (the first pending frames) up to the first that does not fit the
    /// route, to the session's server (as `dispatch` writes); what is left of the run: how many
    /// of its frames, from where.
    private func dispatchRun(_ run: PendingRun) throws -> (count: Int, start: Int) {
        var framesLeft = pendingFrames.count
        var cursor = run.start
        var runStart = cursor
        // The frames before one that fails have gone out, as they would one by one.
        defer { forward(run.bytes, from: runStart, to: cursor) }
        while framesLeft > 0, let frame = pendingFrames.first, fitsRoute(frame) {
            pendingFrames.removeFirst()
            framesLeft -= 1
            try relayInRun(frame, of: run.bytes, at: cursor, runStart: &runStart)
            cursor += frame.bytes.readableBytes
        }
        return (framesLeft, cursor)
    }

    /// The pool handed out a server that closed meanwhile: ask again.
    func serverUnavailable() {
        waitingForServer = false
        if case .closed = phase { return }
        requestServer()
    }

    /// No server could be had (login failed, query_wait_timeout).
    func poolFailed(_ error: ErrorFields) {
        onLoop { [self] in
            waitingForServer = false
            if route == .replica, let replica = currentReplica, case .ready = phase {
                // The replica cannot be reached: keep reads away from it and try elsewhere.
                logger.warning("replica unavailable, retrying the read elsewhere", metadata: ["backend": "\(replica.address)"])
                banReplica(replica)
                requestServer()
                return
            }
            var error = error
            if error.severity != "FATAL" {
                error = ErrorFields(severity: "FATAL", sqlState: error.sqlState ?? "08006", message: error.message)
            }
            fatal(error)
        }
    }

    private func banReplica(_ replica: BackendID) {
        let interval = max(1, runtime.config.replicaCheckIntervalS)
        runtime.routing.ban(replica, until: .now() + .nanoseconds(Int64(2 * interval * 1e9)))
        runtime.routing.recordRetry(database: replica.database)
    }

    /// The server's connection dropped while this client held it.
    func serverLost(_ lost: ServerConnection) {
        guard server === lost else { return }
        server = nil
        serverInbound = nil
        // A SET of the proxy's own still unanswered (swallowReady) is no answer to the client: the
        // next server gets its own.
        if route == .replica, let replica = currentReplica, !answeredSinceDispatch, tracker.status == .idle,
           !inFlightOnReplica.isEmpty {
            logger.warning("replica connection lost before answering, retrying the read", metadata: ["backend": "\(replica.address)"])
            retryReadElsewhere(awayFrom: replica)
            return
        }
        fatal(ErrorFields(severity: "FATAL", sqlState: "08006", message: "server conn crashed?"))
    }

    /// A read whose replica went away before answering anything: send it again elsewhere.
    private func retryReadElsewhere(awayFrom replica: BackendID) {
        banReplica(replica)
        pendingFrames.insert(contentsOf: inFlightOnReplica, at: 0)
        pendingRun = nil
        inFlightOnReplica = []
        swallowReady = 0
        tracker.reset()
        pipeline.reset()
        requests.removeAll()
        requestServer()
    }

    /// The held replica ends its session with a class-57 FATAL as the first answer to a read
    /// (`ReplicaReadRetry`): the server is dropped and the read goes elsewhere; the client never
    /// sees the error. True when that happened.
    private func droppedEndingReplica(_ input: ByteBuffer, errorAt index: Int, length: Int, pendingBefore: Bool,
                                      from source: ServerConnection) -> Bool {
        guard route == .replica, let replica = currentReplica, !pendingBefore,
              ReplicaReadRetry.retriesAfterError(sqlState: input.errorSQLState(at: index, length: length),
                                                 answered: answeredSinceDispatch, inTransaction: tracker.status != .idle,
                                                 readsInFlight: inFlightOnReplica.count)
        else { return false }
        logger.warning("replica ended the session before answering, retrying the read", metadata: [
            "backend": "\(replica.address)", "server": "\(source.id)",
        ])
        server = nil
        serverInbound = nil
        source.unlink(clean: false)
        retryReadElsewhere(awayFrom: replica)
        return true
    }

    private func releaseServer(reset: Bool = true) {
        guard let server else { return }
        // The server's read-complete will no longer reach us once it is unlinked.
        flushClient()
        self.server = nil
        tracker.reset()
        swallowReady = 0
        serverInbound = nil
        pipeline.reset()
        inFlightOnReplica = []
        // The transaction's counters ride along when the server is of the client's own pool
        // (not a replica's): one pool lock per transaction instead of two.
        var report: PoolCounters?
        if countersDue, server.pool === pool {
            report = counters
            counters = PoolCounters()
            countersDue = false
        }
        server.unlink(clean: true, reset: reset, counters: report)
    }

    private func reportDueCounters() {
        guard countersDue else { return }
        countersDue = false
        pool?.add(counters)
        counters = PoolCounters()
    }

    // MARK: relay: server to client

    func serverRead(_ buffer: ByteBuffer, from source: ServerConnection) {
        guard source === server else { return }
        defer { reportDueCounters() }
        lastActivity = .now()
        var input: ByteBuffer
        if var pending = serverInbound, pending.readableBytes > 0 {
            var copy = buffer
            pending.writeBuffer(&copy)
            input = pending
        } else {
            input = buffer
        }
        var index = input.readerIndex
        var runStart = index
        let maxLength = limits.maxMessageLength
        // Made-up answers due after a message (rare); one empty buffer per read, not per message.
        var fakes = allocator.buffer(capacity: 0)
        do {
            while let length = try FrameReader.frameLength(in: input, at: index, maxLength: maxLength) {
                let type = input.getInteger(at: index, as: UInt8.self)!
                if swallowReady > 0 {
                    // Answers to the proxy's own SET: the client never sees them.
                    flushRun(input, from: runStart, to: index)
                    runStart = index + length
                    switch type {
                    case BackendType.readyForQuery: swallowReady -= 1
                    case BackendType.parameterStatus: noteParameterStatus(input, at: index, length: length, server: source)
                    case BackendType.errorResponse:
                        // A replica shutting down answers the proxy's SET with its FATAL.
                        if droppedEndingReplica(input, errorAt: index, length: length, pendingBefore: false, from: source) {
                            return
                        }
                        logger.warning("restoring session parameters on the server failed", metadata: ["server": "\(source.id)"])
                    default: break
                    }
                    index += length
                    continue
                }
                var status: TransactionStatus?
                switch type {
                case BackendType.readyForQuery:
                    let statusByte = input.getInteger(at: index + 5, as: UInt8.self) ?? TransactionStatus.idle.rawValue
                    status = TransactionStatus(rawValue: statusByte) ?? .idle
                case BackendType.parameterStatus:
                    noteParameterStatus(input, at: index, length: length, server: source)
                case BackendType.errorResponse:
                    if droppedEndingReplica(input, errorAt: index, length: length, pendingBefore: runStart < index, from: source) {
                        return
                    }
                    requestFailed = true
                    if context.settings.tracing { failedSQLState = input.errorSQLState(at: index, length: length) }
                default:
                    break
                }
                if mode == .statement, let status, status != .idle {
                    refuseTransactionBlock(server: source)
                    return
                }
                if rewriter != nil {
                    let disposition = pipeline.serverMessage(type, status: status, fakesAfter: &fakes)
                    if pipeline.hasFailedStatements {
                        for name in pipeline.takeFailedStatements() { source.statementCache.remove(name) }
                    }
                    if disposition == .drop {
                        flushRun(input, from: runStart, to: index)
                        runStart = index + length
                    } else if let status {
                        flushEarly(input, from: &runStart, through: index + length)
                        tracker.serverReady(status)
                        requestFinished(status: status)
                    }
                    if fakes.readableBytes > 0 {
                        flushRun(input, from: runStart, to: index + length)
                        runStart = index + length
                        counters.bytesSent &+= UInt64(fakes.readableBytes)
                        writeToClient(fakes)
                        fakes = allocator.buffer(capacity: 0)
                        completeFakeReadies()
                    }
                } else if let status {
                    flushEarly(input, from: &runStart, through: index + length)
                    tracker.serverReady(status)
                    requestFinished(status: status)
                }
                if status != nil, index + length < input.writerIndex, releasesServer {
                    flushRun(input, from: runStart, to: index + length)
                    dropServerAfterStrayBytes(source, input: input, at: index + length)
                    return
                }
                index += length
            }
        } catch {
            logger.error("protocol error from server", metadata: ["server": "\(source.id)", "error": "\(error)"])
            flushRun(input, from: runStart, to: index)
            server = nil
            source.unlink(clean: false)
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "server sent an invalid message"))
            return
        }
        flushRun(input, from: runStart, to: index)
        input.moveReaderIndex(to: index)
        // Only the unread tail (a message cut by the end of a read) is kept, as a slice: the
        // whole buffer would keep every byte already relayed, and the next read appended to it
        // would copy them all again. A large result whose reads kept ending mid-message grew
        // one buffer to the size of the result.
        serverInbound = input.readableBytes > 0 ? input.slice() : nil
        maybeReleaseServer()
    }

    /// Statement pooling: a ReadyForQuery inside a transaction ends the session. As from
    /// PgBouncer, the refusal replaces the answer the server sent in this read (BEGIN's
    /// CommandComplete and ReadyForQuery): sent after the ReadyForQuery, it would reach a
    /// driver that is idle, and libpq takes an error it did not wait for as a notice, reporting
    /// only "server closed the connection"; sent after the CommandComplete alone, drivers see
    /// two results for one command. The server holds an open transaction: it is closed, not
    /// returned to the pool.
    private func refuseTransactionBlock(server source: ServerConnection) {
        server = nil
        serverInbound = nil
        source.unlink(clean: false)
        // PgBouncer's SQLSTATE (08P01): drivers see a broken connection (psycopg's
        // OperationalError), whichever statement the error reaches them with.
        fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "transaction blocks not allowed in statement pooling mode"))
    }

    private func noteParameterStatus(_ input: ByteBuffer, at index: Int, length: Int, server: ServerConnection) {
        guard let frame = input.getSlice(at: index, length: length),
              case .parameterStatus(let name, let value)? = try? BackendMessage.decode(Frame(type: BackendType.parameterStatus, bytes: frame))
        else { return }
        server.parameters[name] = value
        parameters.set(name, value)
    }

    func serverReadComplete() {
        flushClient()
    }

    /// Queues bytes for the client until `flushClient`.
    private func writeToClient(_ buffer: ByteBuffer) {
        transport.write(buffer)
        clientUnflushed = true
    }

    /// Flushes the client's socket unless nothing was written since the last flush: a flush
    /// walks NIO's pipeline even when there is nothing to send.
    private func flushClient() {
        guard clientUnflushed else { return }
        clientUnflushed = false
        transport.flush()
    }

    /// A ReadyForQuery that ends what the server sent in this read: the client gets its answer
    /// now, before the proxy times the request, records it and releases the server.
    private func flushEarly(_ input: ByteBuffer, from runStart: inout Int, through end: Int) {
        guard end == input.writerIndex else { return }
        if let slice = run(of: input, from: runStart, to: end) {
            transport.writeAndFlush(slice)
            clientUnflushed = false
        } else {
            flushClient()
        }
        runStart = end
    }

    private func flushRun(_ buffer: ByteBuffer, from start: Int, to end: Int) {
        if let slice = run(of: buffer, from: start, to: end) { writeToClient(slice) }
    }

    /// The bytes from `start` to `end` as one slice for the client, counted as sent; nil when
    /// there are none.
    private func run(of buffer: ByteBuffer, from start: Int, to end: Int) -> ByteBuffer? {
        guard end > start, let slice = buffer.getSlice(at: start, length: end - start) else { return nil }
        counters.bytesSent &+= UInt64(end - start)
        answeredSinceDispatch = true
        return slice
    }

    /// A ReadyForQuery answered the oldest outstanding request: time it, record it, and at the
    /// end of a transaction hand the counters to the pool.
    private func requestFinished(status: TransactionStatus) {
        guard !requests.isEmpty else { return }
        // One request outstanding is the usual case: removeLast keeps it O(1) (removeFirst
        // shifts the array, a few hundred instructions per query).
        let request = requests.count == 1 ? requests.removeLast() : requests.removeFirst()
        let now = NIODeadline.now()
        let nanos = UInt64(max(0, (now - request.started).nanoseconds))
        counters.queries &+= 1
        counters.queryMicros &+= nanos / 1000
        let stats = context.stats  // one retain for both calls
        if stats.isEnabled {
            stats.record(durationNanos: nanos, waitNanos: lastWaitNanos, database: database, user: user,
                         route: route, fingerprint: request.label.fingerprint, isError: requestFailed)
        }
        // Checked here, not only in logQuery: its arguments (the server's address among them)
        // cost retains and copies for every query even when nothing is logged.
        if context.settings.logQueries != .none {
            runtime.logQuery(client: self, settings: context.settings, fingerprint: fingerprint(of: request.label), durationNanos: nanos,
                             waitNanos: lastWaitNanos, route: route, backend: server?.address)
        }
        if context.settings.tracing {
            context.tracer.finished(FinishedRequest(started: request.started, ended: now, trace: request.label.trace, database: database,
                                                    user: user, route: route, server: server?.address, sqlState: failedSQLState,
                                                    waitNanos: lastWaitNanos),
                                    applicationName: applicationName, fingerprint: { fingerprint(of: request.label) })
            failedSQLState = nil
        }
        requestFailed = false
        lastWaitNanos = 0
        if status == .idle {
            // Assigning even an empty array releases the old one: a call per query.
            if !inFlightOnReplica.isEmpty { inFlightOnReplica = [] }
            if wroteSinceIdle {
                wroteSinceIdle = false
                let window = context.settings.readAfterWrite
                if window > .zero { readAfterWriteUntil = now + window }
            }
        }
        if status == .idle, let started = transactionStarted {
            counters.transactions &+= 1
            counters.transactionMicros &+= UInt64(max(0, (now - started).nanoseconds)) / 1000
            transactionStarted = nil
            countersDue = true
        }
    }

    private func fingerprint(of label: RequestLabel) -> String? {
        if let fingerprint = label.fingerprint { return fingerprint }
        guard let sql = label.sql else { return nil }
        return context.fingerprints.fingerprint(String(buffer: sql))
    }

    /// Whether the server goes back to the pool once the bytes read so far are relayed: no
    /// request of the client's is outstanding, and the pooling mode lets the server go now.
    private var releasesServer: Bool {
        guard swallowReady == 0, pipeline.isEmpty else { return false }
        switch mode {
        case .session: return route == .replica && tracker.isIdle
        case .transaction: return tracker.isIdle
        case .statement: return tracker.isQuiet
        }
    }

    /// Bytes that follow the ReadyForQuery ending the client's last request are not the client's:
    /// nothing was asked of the server. They are a server speaking on its own, typically its FATAL
    /// as it shuts down, read together with that ReadyForQuery; relayed, they would reach the
    /// client as the answer to its next request, sent to another server. The server is closed
    /// instead, and the client goes on. The log names the first message's type and, for an
    /// error, its SQLSTATE (not its text, which may quote data).
    private func dropServerAfterStrayBytes(_ source: ServerConnection, input: ByteBuffer, at start: Int) {
        var metadata: Logger.Metadata = ["server": "\(source.id)", "bytes": "\(input.writerIndex - start)"]
        if let type = input.getInteger(at: start, as: UInt8.self) {
            metadata["message"] = "\(Character(Unicode.Scalar(type)))"
            if type == BackendType.errorResponse, let length = try? FrameReader.frameLength(in: input, at: start, maxLength: limits.maxMessageLength),
               let state = input.errorSQLState(at: start, length: length) {
                metadata["sqlstate"] = "\(state)"
            }
        }
        logger.info("server sent bytes after the ReadyForQuery that ended the client's requests; closing it", metadata: metadata)
        flushClient()
        server = nil
        tracker.reset()
        swallowReady = 0
        serverInbound = nil
        pipeline.reset()
        inFlightOnReplica = []
        source.unlink(clean: false)
        if !pendingFrames.isEmpty { requestServer() }
    }

    private func maybeReleaseServer() {
        guard server != nil, serverInbound == nil, releasesServer else { return }
        // Until its first write a session only reads, so its reads may go to any replica, one
        // request at a time; reads change no session state, so no reset is needed.
        releaseServer(reset: mode != .session)
        if server == nil, !pendingFrames.isEmpty { requestServer() }
    }

    // MARK: cancel

    /// A CancelRequest with this client's key arrived: forward it to the server running its query.
    func cancelRunningQuery() {
        server?.forwardCancel(logger: logger)
    }

    // MARK: admin console

    private func startConsole(prelude: ByteBuffer?) {
        loginTimeout?.cancel()
        loginTimeout = nil
        guard let access = AdminConsoleSession.access(user: user, isUnixSocket: isUnixSocket, config: runtime.config) else {
            fatal(ErrorFields(severity: "FATAL", sqlState: "28000", message: "not allowed"))
            return
        }
        admitToClientLimits(console: true) { [self] in openConsole(access: access, prelude: prelude) }
    }

    private func openConsole(access: AdminConsoleSession.Access, prelude: ByteBuffer?) {
        let console = AdminConsoleSession(runtime: runtime, client: self, access: access)
        self.console = console
        phase = .console
        var buffer = allocator.buffer(capacity: 256)
        if var prelude { buffer.writeBuffer(&prelude) }
        buffer.writeAuthenticationRequest(.ok)
        for (name, value) in console.welcomeParameters { buffer.writeParameterStatus(name: name, value: value) }
        if let key = cancelKey { buffer.writeBackendKeyData(key) }
        buffer.writeReadyForQuery(.idle)
        transport.writeAndFlush(buffer)
        logLogin()
    }

    private func readConsole() throws {
        guard var buffer = inbound, let console else { return }
        while let frame = try FrameReader.next(from: &buffer, maxLength: limits.maxMessageLength) {
            if frame.type == FrontendType.terminate {
                inbound = nil
                terminate()
                return
            }
            console.receive(frame)
        }
        inbound = buffer.readableBytes > 0 ? buffer : nil
    }

    func sendToClient(_ buffer: ByteBuffer, flush: Bool = true) {
        onLoop { [self] in
            writeToClient(buffer)
            if flush { flushClient() }
        }
    }

    // MARK: timeouts

    /// Called about once a second by the maintenance timer, on this loop.
    func checkTimeouts(now: NIODeadline, limits: ClientTimeouts) {
        guard case .ready = phase else { return }
        let quietFor = now - lastActivity
        let timeouts = limits.amounts(forUser: user)
        // PgBouncer's messages and SQLSTATE (08P01): drivers see a broken connection (psycopg's
        // OperationalError), which is what code written for PgBouncer catches.
        if timeouts.query > .zero, server != nil, let oldest = requests.first, now - oldest.started > timeouts.query {
            logger.warning("query timeout: cancelling the query and closing the client")
            cancelRunningQuery()
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "query timeout"))
            return
        }
        if timeouts.idleTransaction > .zero, server != nil, tracker.isQuiet, tracker.status != .idle,
           quietFor > timeouts.idleTransaction {
            logger.info("idle transaction timeout: closing the client")
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "idle transaction timeout"))
            return
        }
        if timeouts.transaction > .zero, server != nil, let started = transactionStarted, now - started > timeouts.transaction {
            logger.info("transaction timeout: closing the client")
            if !requests.isEmpty { cancelRunningQuery() }
            // The server is closed, not pooled: the transaction is open on it (clientClosed).
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "transaction timeout"))
            return
        }
        if limits.serverFastClose, mode == .session, let server, tracker.isIdle, swallowReady == 0, pipeline.isEmpty,
           server.pool.isMarkedForClose(server) {
            logger.info("server_fast_close: closing the client between transactions", metadata: ["server": "\(server.id)"])
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "database configuration changed"))
            return
        }
        if timeouts.clientIdle > .zero, server == nil || (mode == .session && tracker.isIdle), !waitingForServer,
           quietFor > timeouts.clientIdle {
            fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "client_idle_timeout"))
        }
    }

    // MARK: shutdown

    /// A request or transaction is running on a server for this client.
    var holdsOpenWork: Bool {
        guard case .ready = phase else { return false }
        return server != nil && !(tracker.isIdle && swallowReady == 0)
    }

    func shutdownClose() {
        if case .closed = phase { return }
        fatal(ErrorFields(severity: "FATAL", sqlState: "57P01", message: "server shutting down"))
    }

    // MARK: back-pressure

    /// The client's socket filled up or drained: its server stops or resumes reading, so that a
    /// client that does not read a large result holds the server's rows in PostgreSQL, not here.
    func clientWritabilityChanged(_ writable: Bool) {
        server?.pauseReading(forClient: !writable)
    }

    /// The held server's socket filled up or drained: the client stops or resumes reading, so that
    /// what a client sends faster than its server takes it (COPY FROM) stays in the client's kernel
    /// buffers. Only this client and this server are affected.
    func serverWritabilityChanged(_ writable: Bool, from source: ServerConnection) {
        guard source === server else { return }
        pauseReading(forServer: !writable)
    }

    private func pauseReading(forServer paused: Bool) {
        guard paused != readingPausedForServer else { return }
        readingPausedForServer = paused
        transport.setReading(!paused)
    }

}

import Foundation
