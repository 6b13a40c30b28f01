import Logging
import NIOConcurrencyHelpers
import NIOCore
import PGRelayCore
import PGWire

/// The server connections of one (database, user, backend). Clients ask for a server and are
/// answered on their own event loop, at once when an idle server is free, or when one is released
/// or opened. An idle server on the client's loop is preferred, so that most links need no hop
/// between threads; a server on another loop is lent rather than letting the client wait.
final class ServerPool: @unchecked Sendable {
    let key: PoolKey
    let runtime: ProxyRuntime
    private let lock = NIOLock()
    /// The `[databases]` entry as of the last reload.
    var entry: DatabaseConfig { lock.withLock { _entry } }
    /// The entry's name (`*` for the fallback entry), which routing is keyed by; read without a lock.
    let entryName: String

    // Guarded by `lock`.
    private var _entry: DatabaseConfig
    private var _settings: PoolSettings
    private var idle: [ServerConnection] = []
    // Lent and busy (resetting or checking) servers are counted here and marked on the server
    // itself (`ServerConnection.poolMembership`): two hash-set updates per transaction cost more
    // than the rest of a release.
    private var lentCount = 0
    private var busyCount = 0
    private var closing: Set<ObjectIdentifier> = [] // closed by the pool, connection not gone yet
    private var connecting = 0
    private var waiters = CircularBuffer<Waiter>()
    private var _welcome: [(name: String, value: String)]?
    private var retired = false
    private var lastLoginError: ErrorFields?
    /// Open servers by identity, for SHOW SERVERS (admin only; the hot path never reads it).
    private var members: [ObjectIdentifier: ServerConnection] = [:]
    /// RECONNECT / KILL: servers opened before this close instead of going back to the pool.
    private var closeOpenedBefore: (before: NIODeadline, reason: String)?
    /// server_login_retry: when the last connection attempt failed, the next one waits.
    private var loginRetry = ServerLoginRetry()
    /// `host=` lists: the host of the next connection (load_balance_hosts).
    private var hostRotation: HostRotation
    /// A replica's pool: its failures ban the replica (health checks bring it back), so
    /// server_login_retry does not apply and its waiting clients fail at once to read elsewhere.
    private let isReplicaPool: Bool
    /// The primary's pool of a `hosts=` database: it connects where the health checker found
    /// the primary (`primaryTarget`), and its clients wait while there is none.
    private let followsPrimary: Bool
    /// Where a `hosts=` primary pool connects now; nil for other pools.
    private var primaryTarget: PrimaryVerdict?

    // Counters for SHOW STATS / SHOW POOLS, guarded by `lock`.
    private(set) var totalServerAssignments: UInt64 = 0
    private(set) var maxWaitNanos: UInt64 = 0
    private var _counters = PoolCounters()

    /// Adds what one client session did since its last report. A session reports once per
    /// transaction, usually with the server it gives back (`release(_:clean:reset:counters:)`,
    /// one lock for both); this is for the other reports.
    func add(_ delta: PoolCounters) {
        lock.withLock { addLocked(delta) }
    }

    private func addLocked(_ delta: PoolCounters) {
        _counters.transactions &+= delta.transactions
        _counters.queries &+= delta.queries
        _counters.bytesReceived &+= delta.bytesReceived
        _counters.bytesSent &+= delta.bytesSent
        _counters.transactionMicros &+= delta.transactionMicros
        _counters.queryMicros &+= delta.queryMicros
        _counters.waitMicros &+= delta.waitMicros
        _counters.clientParses &+= delta.clientParses
        _counters.serverParses &+= delta.serverParses
        _counters.binds &+= delta.binds
    }

    /// Totals so far (server assignments included).
    var counters: PoolCounters {
        lock.withLock {
            var c = _counters
            c.serverAssignments = totalServerAssignments
            return c
        }
    }

    struct Waiter {
        let client: ClientSession
        let since: NIODeadline
        /// query_wait_notify: the client was told that it is queued.
        var notified = false
        /// The client waits only for the pool's welcome parameters (it is logging in).
        var forWelcome = false
    }

    init(key: PoolKey, entry: DatabaseConfig, runtime: ProxyRuntime, settings: PoolSettings) {
        self.key = key
        self._entry = entry
        self.entryName = entry.name
        self.runtime = runtime
        self._settings = settings
        // Only the primary's pool rotates over the host list; a replica's pool has one address.
        self.isReplicaPool = key.replica
        self.followsPrimary = entry.discoversPrimary && !key.replica
        self.hostRotation = HostRotation(hostCount: isReplicaPool || entry.discoversPrimary ? 1 : entry.hosts.count,
                                         mode: entry.loadBalanceHosts)
        if followsPrimary {
            primaryTarget = runtime.routing.primaryVerdict(database: entry.name) ?? .none(reason: "no primary: not checked yet")
        }
    }

    var settings: PoolSettings { lock.withLock { _settings } }

    /// The ParameterStatus values a freshly logged-in server reported, shown to clients at login.
    var welcome: [(name: String, value: String)]? { lock.withLock { _welcome } }

    var logger: Logger { runtime.logger }

    // MARK: lending

    /// Asks for a server for `client`. The answer comes later through `client.assign(_:)` or
    /// `client.poolFailed(_:)`, on the client's event loop. `forWelcome`: the client is logging in
    /// and needs a server only for the parameters its login ends with; once the pool knows them
    /// (another client's server brought them meanwhile), the client gets them at once through
    /// `client.welcomeKnown(_:)`, here, instead of a server (and no server is opened for it).
    func acquire(for client: ClientSession, forWelcome: Bool = false) {
        var server: ServerConnection?
        var check: String?
        var open = false
        var fastFail: ErrorFields?
        var welcome: [(name: String, value: String)]?
        lock.withLock {
            if forWelcome, let known = _welcome {
                welcome = known
                return
            }
            if retired || runtime.isPaused(database: key.database) {
                waiters.append(Waiter(client: client, since: .now(), forWelcome: forWelcome))
                return
            }
            if followsPrimary, let target = primaryTarget, target.primary == nil {
                // No primary: clients wait for the checks to find one; two: writes stop.
                if case .splitBrain(let primaries) = target {
                    fastFail = Self.splitBrainError(database: entryName, primaries: primaries)
                } else {
                    waiters.append(Waiter(client: client, since: .now(), forWelcome: forWelcome))
                }
                return
            }
            if let index = idleIndexToLendLocked(to: client) {
                let taken = idle.remove(at: index)
                server = taken
                check = lendOrCheckLocked(taken)
                return
            }
            if client.hasLoggedIn, !isReplicaPool, !followsPrimary {
                fastFail = loginRetry.fastFailError(serversAlive: idle.count + lentCount + busyCount)
            }
            if fastFail == nil { waiters.append(Waiter(client: client, since: .now(), forWelcome: forWelcome)) }
            // After a fast failure too, so that the pool retries (once server_login_retry has
            // passed) although no client waits. Not when the servers being opened already cover
            // the queued clients: one of them, or a released server, serves this one.
            let needed = fastFail == nil ? waiters.count > connecting : connecting == 0
            open = needed && canOpenLocked(limit: _settings.poolSize)
            if open { connecting += 1 }
        }
        if let welcome {
            client.welcomeKnown(welcome)
            return
        }
        if let server {
            if let check { checkThenHand(server, to: client, query: check) } else { hand(server, to: client) }
        } else if let fastFail {
            client.poolFailed(fastFail)
        }
        if open {
            openServer(on: client.loop)
        } else if server == nil, fastFail == nil {
            evictForWaitersIfStarved()
        }
    }

    /// The idle server to lend: the newest (LIFO, so that few servers do most of the work),
    /// preferring the client's event loop; with server_round_robin the oldest (FIFO), so that
    /// every server gets its share, as behind a load balancer or a `host=` list.
    private func idleIndexToLendLocked(to client: ClientSession) -> Int? {
        if _settings.roundRobin { return idle.isEmpty ? nil : 0 }
        return idle.lastIndex(where: { $0.loop === client.loop }) ?? (idle.isEmpty ? nil : idle.count - 1)
    }

    /// A server leaving `idle` for a client: lent now, or (the SQL returned) busy with
    /// server_check_query first, as PgBouncer checks a server idle since server_check_delay or
    /// longer (0: every time) before reusing it, so that a connection that died quietly is found
    /// before a client's query is sent on it.
    private func lendOrCheckLocked(_ server: ServerConnection, justVerified: Bool = false) -> String? {
        if !justVerified, let sql = _settings.checkSQL,
           NIODeadline.now() - server.lastCheckedOrUsed >= .nanoseconds(Int64(max(0, _settings.checkDelay) * 1e9)) {
            setMembershipLocked(server, .busy)
            return sql
        }
        setMembershipLocked(server, .lent)
        totalServerAssignments += 1
        return nil
    }

    /// Runs the check, then lends the server; a server that fails it is closed ("test query
    /// failed", PgBouncer's words) and the client asks again, unaware.
    private func checkThenHand(_ server: ServerConnection, to client: ClientSession, query: String) {
        server.runInternalQuery(query) { [self] ok in
            guard ok else {
                discard(server, reason: "test query failed")
                acquire(for: client)
                return
            }
            server.markChecked()
            lock.withLock {
                setMembershipLocked(server, .lent)
                totalServerAssignments += 1
            }
            hand(server, to: client)
        }
    }

    /// Every queued client gets `error` and leaves the queue (SHUTDOWN WAIT_FOR_SERVERS).
    func failWaiters(_ error: ErrorFields) {
        let failed: [Waiter] = lock.withLock {
            defer { waiters.removeAll() }
            return Array(waiters)
        }
        for waiter in failed { waiter.client.poolFailed(error) }
    }

    /// A client that no longer waits (it disconnected) leaves the queue.
    func cancelWait(for client: ClientSession) {
        lock.withLock {
            if let index = waiters.firstIndex(where: { $0.client === client }) {
                waiters.remove(at: index)
            }
        }
    }

    /// A server comes back from a client. `clean` means no transaction or request is open on it;
    /// otherwise it is closed, never lent again. In session mode the reset query runs first.
    /// Runs once per transaction in transaction pooling, so the usual case takes the lock once,
    /// and adds the client's `counters` for the transaction (see `add`) under the same lock.
    func release(_ server: ServerConnection, clean: Bool, reset: Bool = true, counters: PoolCounters? = nil) {
        guard clean, server.isUsable else {
            if let counters { add(counters) }
            discard(server, reason: "client disconnect while server was not ready")
            return
        }
        enum Next {
            case discard(String)
            case reset(String)
            case placed(Placement)
        }
        let next: Next = lock.withLock {
            if let counters { addLocked(counters) }
            if server.expired(lifetime: _settings.serverLifetime) { return .discard("server lifetime over") }
            if let mark = closeMarkLocked(server) { return .discard(mark) }
            if reset, !_settings.resetQuery.isEmpty, _settings.poolMode == .session || _settings.resetQueryAlways {
                setMembershipLocked(server, .busy)
                return .reset(_settings.resetQuery)
            }
            return .placed(placeLocked(server, justVerified: false))
        }
        switch next {
        case .discard(let reason):
            discard(server, reason: reason)
        case .reset(let query):
            server.runInternalQuery(query) { [self] ok in
                if ok { makeAvailable(server) } else { discard(server, reason: "reset query failed") }
            }
        case .placed(let placement):
            carryOut(placement, server)
        }
    }

    /// Where a freed server went.
    private enum Placement {
        case handed(to: ClientSession)
        case checkedFor(ClientSession, query: String)
        case idle
        case close
        case discard(String)
    }

    /// A server that just logged in or answered the reset query is free: the longest-waiting
    /// client gets it (unchecked: it has just answered), or it goes idle. It leaves `lent`/`busy`
    /// in the same locked step, so it is never uncounted for a moment (another thread would then
    /// open one server too many).
    private func makeAvailable(_ server: ServerConnection) {
        let placement = lock.withLock { placeLocked(server, justVerified: true) }
        carryOut(placement, server)
    }

    private func placeLocked(_ server: ServerConnection, justVerified: Bool) -> Placement {
        setMembershipLocked(server, .none)
        if retired { return .close }
        // Opened (or reset) while RECONNECT or a changed setup marked the pool's servers.
        if let mark = closeMarkLocked(server) { return .discard(mark) }
        if followsPrimary, let primary = primaryTarget?.primary, server.address != primary {
            return .discard("primary moved to \(primary)")
        }
        let mayLend = !followsPrimary || primaryTarget?.primary != nil
        if mayLend, !runtime.isPaused(database: key.database), let first = takeWaiterLocked(for: server) {
            let waited = NIODeadline.now() - first.since
            maxWaitNanos = max(maxWaitNanos, UInt64(max(0, waited.nanoseconds)))
            if let query = lendOrCheckLocked(server, justVerified: justVerified) { return .checkedFor(first.client, query: query) }
            return .handed(to: first.client)
        }
        server.markIdle()
        idle.append(server)
        return .idle
    }

    private func carryOut(_ placement: Placement, _ server: ServerConnection) {
        switch placement {
        case .handed(let client): hand(server, to: client)
        case .checkedFor(let client, let query): checkThenHand(server, to: client, query: query)
        case .idle: break
        case .close: server.close(reason: "database removed")
        case .discard(let reason): discard(server, reason: reason)
        }
    }

    /// The waiter a freed server goes to: the longest-waiting client on the server's own event loop
    /// (so the link needs no hop between threads, which costs more than the query itself), unless
    /// the longest-waiting client of all has waited long enough to be served first regardless.
    private func takeWaiterLocked(for server: ServerConnection) -> Waiter? {
        guard let head = waiters.first else { return nil }
        if head.client.loop === server.loop || NIODeadline.now() - head.since > .milliseconds(2) {
            return waiters.removeFirst()
        }
        if let index = waiters.firstIndex(where: { $0.client.loop === server.loop }) {
            return waiters.remove(at: index)
        }
        return waiters.removeFirst()
    }

    private func hand(_ server: ServerConnection, to client: ClientSession) {
        server.link(to: client)
    }

    /// Closes a server and forgets it; opens a replacement if clients are waiting.
    /// The server stays counted against the pool size until its connection is really closed
    /// (`serverClosed`), so that a replacement never makes the pool exceed its size.
    func discard(_ server: ServerConnection, reason: String) {
        lock.withLock {
            let id = ObjectIdentifier(server)
            let wasCounted = server.poolMembership != .none
            setMembershipLocked(server, .none)
            if wasCounted || idle.contains(where: { $0 === server }) || members[id] != nil {
                closing.insert(id)
            }
            idle.removeAll { $0 === server }
        }
        server.close(reason: reason)
    }

    /// Called by a server whose connection is gone (closed by us or dropped); opens a replacement
    /// when clients are waiting.
    func serverClosed(_ server: ServerConnection) {
        var open = false
        lock.withLock {
            let id = ObjectIdentifier(server)
            members[id] = nil
            setMembershipLocked(server, .none)
            closing.remove(id)
            idle.removeAll { $0 === server }
            open = !waiters.isEmpty && waiters.count > connecting && canOpenLocked(limit: _settings.poolSize)
            if open { connecting += 1 }
        }
        if open { openServer(on: runtime.group.next()) }
    }

    /// Moves a server between lent, busy and neither, keeping the counts. Under the lock.
    private func setMembershipLocked(_ server: ServerConnection, _ membership: PoolMembership) {
        switch server.poolMembership {
        case .lent: lentCount -= 1
        case .busy: busyCount -= 1
        case .none: break
        }
        server.poolMembership = membership
        switch membership {
        case .lent: lentCount += 1
        case .busy: busyCount += 1
        case .none: break
        }
    }

    // MARK: opening servers

    /// Logged-in servers that may still serve a client: not closing, and not marked for closing
    /// by RECONNECT or a reload (PgBouncer's kill_pool_logins counts a dirty pool's servers out).
    private var usableServersLocked: Int {
        members.values.filter { !closing.contains(ObjectIdentifier($0)) && !isMarkedForCloseLocked($0) }.count
    }

    private var totalLocked: Int { idle.count + lentCount + busyCount + closing.count + connecting }
    /// A server slot (max_db/user_connections) was refused since the last eviction check.
    private var slotRefused = false

    private func canOpenLocked(limit: Int) -> Bool {
        guard !retired, totalLocked < limit, !followsPrimary || primaryTarget?.primary != nil,
              isReplicaPool || loginRetry.mayConnect(now: .now(), retry: _settings.loginRetry, inFlight: connecting) else { return false }
        if runtime.reserveServerSlot(database: key.database, user: key.user, settings: _settings) { return true }
        slotRefused = true
        return false
    }

    /// max_db_connections or max_user_connections kept this pool from opening a server its
    /// queued clients need: as PgBouncer, the idle server used longest ago among the pools under
    /// the same limit closes ("evicted"), its slot is free at once, and this pool opens a server
    /// in it. Called without this pool's lock held.
    private func evictForWaitersIfStarved() {
        let starved = lock.withLock {
            defer { slotRefused = false }
            return slotRefused && !waiters.isEmpty && waiters.count > connecting
        }
        if starved, runtime.evictIdleServer(sharingLimitsWith: self) {
            openForWaiters()
        }
    }

    /// When this pool's longest-idle server went idle (nil: none is idle).
    var oldestIdleSince: NIODeadline? {
        lock.withLock { idle.map(\.idleSince).min() }
    }

    /// Closes the server idle longest ("evicted") and frees its max_db/user_connections slot now;
    /// false if none is idle.
    func evictOldestIdle() -> Bool {
        let victim: ServerConnection? = lock.withLock {
            guard let index = idle.indices.min(by: { idle[$0].idleSince < idle[$1].idleSince }) else { return nil }
            return idle[index]
        }
        guard let victim else { return false }
        victim.releaseSlotNow()
        discard(victim, reason: "evicted")
        return true
    }

    private func openServer(on loop: EventLoop) {
        let settings = self.settings
        let (entry, hostIndex, hostCount, target) = lock.withLock { (_entry, hostRotation.next(), hostRotation.hostCount, primaryTarget) }
        let credentials = runtime.credentials(for: entry, user: key.user)
        var address = hostCount > 1 && entry.hosts.indices.contains(hostIndex) ? entry.hosts[hostIndex] : key.address
        if followsPrimary {
            // The primary was lost between deciding to open and now: count the attempt as failed.
            guard let primary = target?.primary else {
                serverFailedToOpen(ErrorFields(sqlState: "08006", message: "no primary to connect to"))
                return
            }
            address = primary
        }
        ServerConnection.open(pool: self, address: address, database: settings.serverDatabase,
                              credentials: credentials, settings: settings, on: loop)
    }

    /// A new server finished its login.
    func serverOpened(_ server: ServerConnection) {
        var welcomed: [ClientSession] = []
        let welcome: [(name: String, value: String)]? = lock.withLock {
            connecting -= 1
            setMembershipLocked(server, .busy) // counted until makeAvailable places it
            lastLoginError = nil
            loginRetry.succeeded()
            hostRotation.attemptEnded(succeeded: true)
            members[ObjectIdentifier(server)] = server
            guard _welcome == nil else { return nil }
            _welcome = server.parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            // Clients that queued only for these parameters log in now, without a server: the
            // server goes to a client that needs one, and none is opened for them.
            welcomed = waiters.filter(\.forWelcome).map(\.client)
            if !welcomed.isEmpty { waiters.removeAll(where: \.forWelcome) }
            return _welcome
        }
        if let welcome {
            for client in welcomed {
                client.onLoop { client.welcomeKnown(welcome) }
            }
        }
        makeAvailable(server)
        // The first login of a pool runs alone (ServerLoginRetry.mayConnect): the clients queued
        // behind it get their servers opened now.
        openForWaiters()
    }

    /// A new server could not connect or log in; the next attempt waits server_login_retry. When
    /// no server of this pool is alive and the server refused the login, the waiting clients get
    /// the error now instead of waiting for query_wait_timeout; when it could not be reached they
    /// stay queued for the retry, as in PgBouncer. A replica's clients are always failed at once:
    /// their reads then go to another backend.
    func serverFailedToOpen(_ error: ErrorFields, serverAnswered: Bool = false) {
        if followsPrimary, !serverAnswered {
            primaryUnreachable(error)
            return
        }
        var failed: [Waiter] = []
        var retryIn: Double?
        lock.withLock {
            connecting -= 1
            runtime.releaseServerSlot(database: key.database, user: key.user)
            lastLoginError = error
            loginRetry.failed(at: .now(), message: error.message,
                              transient: ServerLoginRetry.isTransient(error, serverAnswered: serverAnswered))
            hostRotation.attemptEnded(succeeded: false)
            if usableServersLocked == 0, isReplicaPool || ServerLoginFailure.failsWaitingClients(error, serverAnswered: serverAnswered) {
                while let waiter = waiters.popFirst() { failed.append(waiter) }
            }
            if !waiters.isEmpty, !isReplicaPool { retryIn = loginRetry.wait(retry: _settings.loginRetry) }
        }
        logLoginFailure(error, host: "\(key.address)")
        for waiter in failed { waiter.client.poolFailed(error) }
        // Waiting clients get the next attempt as soon as the wait allows, not at the next
        // once-a-second maintenance (a short transient wait would otherwise be rounded up).
        if let retryIn, retryIn < 1 {
            runtime.group.next().scheduleTask(in: .nanoseconds(Int64(retryIn * 1e9))) { [self] in openForWaiters() }
        }
    }

    /// PgBouncer's line, which operators grep for: "db/user@host:port server login failed:
    /// FATAL message".
    private func logLoginFailure(_ error: ErrorFields, host: String) {
        logger.error("\(key.database)/\(key.user)@\(host) server login failed: \(error.severity) \(error.message)")
    }

    /// Opens servers for queued clients as far as the pool's size and the retry wait allow.
    private func openForWaiters() {
        var opens = 0
        lock.withLock {
            while !waiters.isEmpty, waiters.count > connecting, canOpenLocked(limit: _settings.poolSize) {
                connecting += 1
                opens += 1
            }
        }
        for _ in 0..<opens { openServer(on: runtime.group.next()) }
    }

    // MARK: following a `hosts=` database's primary

    /// The health checker's latest election for this pool's database. A new primary: idle
    /// servers to the old one close now and lent ones when they come back, and the clients
    /// waiting get servers there. Two primaries: the waiting clients get the split-brain error.
    func setPrimary(_ verdict: PrimaryVerdict) {
        guard followsPrimary else { return }
        var stale: [ServerConnection] = []
        var failed: [Waiter] = []
        let gained = lock.withLock { () -> Bool in
            let before = primaryTarget?.primary
            primaryTarget = verdict
            guard let primary = verdict.primary else {
                if case .splitBrain = verdict { failed = Array(waiters); waiters.removeAll() }
                return false
            }
            stale = idle.filter { $0.address != primary }
            idle.removeAll { $0.address != primary }
            if before != primary { loginRetry.reset() }
            return before != primary
        }
        for server in stale { discard(server, reason: "primary moved to \(verdict.primary.map(\.description) ?? "")") }
        if case .splitBrain(let primaries) = verdict {
            let error = Self.splitBrainError(database: entryName, primaries: primaries)
            for waiter in failed { waiter.client.poolFailed(error) }
        }
        if gained, !runtime.isPaused(database: key.database) { resumeWaiters() }
    }

    /// A connection to the server taken for the primary failed before it answered: the clients
    /// keep waiting (up to query_wait_timeout) while the checks look for the primary at once.
    private func primaryUnreachable(_ error: ErrorFields) {
        let lost = lock.withLock { () -> BackendAddress? in
            connecting -= 1
            runtime.releaseServerSlot(database: key.database, user: key.user)
            lastLoginError = error
            guard let primary = primaryTarget?.primary else { return nil }
            primaryTarget = .none(reason: "no primary: \(primary) unreachable: \(error.message)")
            return primary
        }
        logLoginFailure(error, host: lost.map(\.description) ?? "\(key.address)")
        runtime.checkBackendsSoon()
    }

    /// What a write gets while two servers of its database answer as primaries.
    static func splitBrainError(database: String, primaries: [BackendAddress]) -> ErrorFields {
        ErrorFields(severity: "FATAL", sqlState: "57P03",
                    message: PrimaryVerdict.splitBrainMessage(database: database, primaries: primaries),
                    hint: "Stop or demote one of them; pgrelay resumes writes when its checks find a single primary.")
    }

    // MARK: maintenance

    /// Runs about once a second: expires waiting clients, grows into the reserve pool, closes
    /// servers idle or alive too long, keeps min_pool_size servers open. (Idle servers are
    /// checked when lent, not here: see `lendOrCheckLocked`.)
    func maintain(now: NIODeadline) {
        if runtime.shutdownMode == .waitForServers {
            // As PgBouncer's janitor, the next pass after SHUTDOWN WAIT_FOR_SERVERS disconnects
            // the clients queued for a server; the transactions running go on.
            failWaiters(ProxyServer.serverShuttingDown)
        }
        let settings = self.settings
        var timedOut: [(Waiter, reason: String)] = []
        var toNotify: [ClientSession] = []
        var toClose: [(ServerConnection, String)] = []
        var opens = 0
        var fromReserve = 0
        lock.withLock {
            // As PgBouncer, a client queued for a server longer than query_timeout fails with
            // "query_timeout" (a server that never comes does not make the wait endless when
            // query_wait_timeout is longer or off), otherwise after query_wait_timeout.
            let queryLimit = settings.queryTimeout > 0 ? TimeAmount.nanoseconds(Int64(settings.queryTimeout * 1e9)) : nil
            let waitLimit = settings.queryWaitTimeout > 0 ? TimeAmount.nanoseconds(Int64(settings.queryWaitTimeout * 1e9)) : nil
            if let limit = [queryLimit, waitLimit].compactMap({ $0 }).min() {
                while let first = waiters.first, now - first.since > limit {
                    let waited = now - first.since
                    let reason = queryLimit.map { waited > $0 } == true ? "query_timeout" : "query_wait_timeout"
                    timedOut.append((waiters.removeFirst(), reason))
                }
            }
            if settings.queryWaitNotify > 0 {
                let limit = TimeAmount.nanoseconds(Int64(settings.queryWaitNotify * 1e9))
                for index in waiters.indices where !waiters[index].notified && now - waiters[index].since > limit {
                    waiters[index].notified = true
                    toNotify.append(waiters[index].client)
                }
            }
            if let first = waiters.first, settings.reservePoolSize > 0,
               now - first.since > .nanoseconds(Int64(settings.reservePoolTimeout * 1e9)),
               totalLocked >= settings.poolSize, canOpenLocked(limit: settings.poolSize + settings.reservePoolSize) {
                connecting += 1
                opens += 1
                fromReserve += 1
            }
            while !waiters.isEmpty, waiters.count > connecting, canOpenLocked(limit: settings.poolSize) {
                connecting += 1
                opens += 1
            }
            var keep: [ServerConnection] = []
            for server in idle {
                let idleFor = now - server.idleSince
                if server.expired(lifetime: settings.serverLifetime) {
                    toClose.append((server, "server lifetime over"))
                } else if settings.serverIdleTimeout > 0, idleFor > .nanoseconds(Int64(settings.serverIdleTimeout * 1e9)),
                          totalLocked - toClose.count > settings.minPoolSize {
                    toClose.append((server, "server idle timeout"))
                } else {
                    keep.append(server)
                }
            }
            idle = keep
            // The servers to close left `idle` above and are counted nowhere until `discard`.
            while totalLocked + opens < settings.minPoolSize, canOpenLocked(limit: settings.poolSize) {
                connecting += 1
                opens += 1
            }
        }
        for (waiter, reason) in timedOut {
            waiter.client.poolFailed(ErrorFields(severity: "FATAL", sqlState: "08P01", message: reason))
        }
        if fromReserve > 0 {
            // PgBouncer's words, which operators watch for: the pool is short of servers.
            logger.info("\(key.database)/\(key.user)@\(key.address) taking connection from reserve_pool")
        }
        for client in toNotify { client.notifyQueued() }
        for (server, reason) in toClose { discard(server, reason: reason) }
        for _ in 0..<opens { openServer(on: runtime.group.next()) }
        evictForWaitersIfStarved()
    }

    /// A reload or `SET`: new settings, and a failed login no longer delays the next attempt
    /// (the change may be what fixes it). When the entry now opens other servers (another
    /// dbname, host, user...), the servers open now close, idle ones at once and lent ones when
    /// released, as after RECONNECT.
    func update(entry: DatabaseConfig, settings: PoolSettings) {
        let retarget = lock.withLock {
            let changed = !entry.opensSameServers(as: _entry)
            _entry = entry
            _settings = settings
            loginRetry.reset()
            return changed
        }
        if retarget {
            closeAllWhenReleased(reason: "database configuration changed")
        }
    }

    /// The database was removed from the configuration: idle servers close now, lent ones when
    /// they come back, and no new client gets this pool.
    func retire() {
        let closing: [ServerConnection] = lock.withLock {
            retired = true
            let servers = idle
            idle = []
            return servers
        }
        for server in closing { discard(server, reason: "database removed") }
    }

    /// Wakes waiting clients after RESUME.
    func resumeWaiters() {
        var open = 0
        var handouts: [(ServerConnection, ClientSession, check: String?)] = []
        lock.withLock {
            while !waiters.isEmpty, !idle.isEmpty, !followsPrimary || primaryTarget?.primary != nil {
                let waiter = waiters.removeFirst()
                let server = _settings.roundRobin ? idle.removeFirst() : idle.removeLast()
                handouts.append((server, waiter.client, lendOrCheckLocked(server)))
            }
            while waiters.count > connecting + open, canOpenLocked(limit: _settings.poolSize) {
                connecting += 1
                open += 1
            }
        }
        for (server, client, check) in handouts {
            if let check { checkThenHand(server, to: client, query: check) } else { hand(server, to: client) }
        }
        for _ in 0..<open { openServer(on: runtime.group.next()) }
    }

    /// Closes every idle server (RECONNECT / KILL); lent servers close when released if `all`.
    func closeIdle(reason: String) {
        let closing: [ServerConnection] = lock.withLock {
            let servers = idle
            idle = []
            return servers
        }
        for server in closing { discard(server, reason: reason) }
    }

    struct Counts {
        var idle: Int
        var active: Int
        var busy: Int
        var connecting: Int
        var waiting: Int
        var maxWaitNanos: UInt64
        var assignments: UInt64
    }

    func counts(now: NIODeadline = .now()) -> Counts {
        lock.withLock {
            let oldest = waiters.first.map { UInt64(max(0, (now - $0.since).nanoseconds)) } ?? 0
            return Counts(idle: idle.count, active: lentCount, busy: busyCount, connecting: connecting,
                          waiting: waiters.count, maxWaitNanos: oldest, assignments: totalServerAssignments)
        }
    }

    var isRetired: Bool { lock.withLock { retired } }

    // MARK: admin views and commands

    /// Every open server with its state ("active" lent, "idle", "used" resetting or checking),
    /// oldest first, for SHOW SERVERS and /servers.
    func serverStates() -> [(server: ServerConnection, state: String)] {
        lock.withLock {
            members.values.map { server -> (server: ServerConnection, state: String) in
                let state: String
                switch server.poolMembership {
                case .lent: state = "active"
                case .busy: state = "used"
                case .none: state = "idle"
                }
                return (server, state)
            }
        }.sorted { $0.server.id < $1.server.id }
    }

    /// Whether the last attempt to log in to the backend failed (for /health's `up`).
    var lastLoginFailed: Bool { lock.withLock { lastLoginError != nil } }

    /// RECONNECT: every server open now closes, idle ones at once, lent ones when released;
    /// `reason` is what their closing is logged with.
    func closeAllWhenReleased(reason: String = "close_needed") {
        lock.withLock { closeOpenedBefore = (.now(), reason) }
        closeIdle(reason: reason)
    }

    /// Servers still open that RECONNECT or KILL marked for closing (WAIT_CLOSE waits for none).
    var serversMarkedForClose: Int {
        lock.withLock { members.values.filter { isMarkedForCloseLocked($0) }.count }
    }

    /// Whether RECONNECT or KILL marked this server for closing (SHOW SERVERS' close_needed).
    func isMarkedForClose(_ server: ServerConnection) -> Bool {
        lock.withLock { isMarkedForCloseLocked(server) }
    }

    private func isMarkedForCloseLocked(_ server: ServerConnection) -> Bool {
        closeMarkLocked(server) != nil
    }

    /// Why RECONNECT, KILL or a configuration change marked this server for closing, if they did.
    private func closeMarkLocked(_ server: ServerConnection) -> String? {
        guard let mark = closeOpenedBefore, server.createdAt < mark.before else { return nil }
        return mark.reason
    }
}

/// Where a pool counts one of its servers besides `idle`: lent to a client, or busy with a
/// reset or check query.
enum PoolMembership {
    case none, lent, busy
}
