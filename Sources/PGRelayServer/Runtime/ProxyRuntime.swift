import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PGRelayCore
import PGWire
import Synchronization

/// Everything the proxy's connections share: the current configuration and user list, the pools,
/// the registry of clients (for cancel requests and the admin views), and the event loops.
/// Reads of `config` are cheap snapshots; a reload swaps the value and tells the pools.
public final class ProxyRuntime: @unchecked Sendable {
    /// The loops sessions and server connections live on: the engine's reactors.
    public let group: EventLoopGroup
    /// NIO's loops, for what runs on NIO channels: TLS connections (handed over by the engine),
    /// cancel requests, health checks and auth_query.
    public let ioGroup: EventLoopGroup
    public let logger: Logger
    public let startedAt = Date()
    /// Reload and shutdown, for the console and the admin API.
    public weak var controller: ProxyServer?

    private let state: NIOLockedValueBox<State>
    private let ids = NIOLockedValueBox<UInt64>(0)
    let slots = NIOLockedValueBox(ServerSlotCounter())

    struct State {
        var config: Config
        var secrets: [String: StoredSecret]
        var pools: [PoolKey: ServerPool] = [:]
        /// Databases served through the `*` entry so far, for PgBouncer's "registered new
        /// auto-database" line (once per name).
        var autoDatabases: Set<String> = []
        var clients: [UInt64: ClientSession] = [:]
        var cancelKeys: [CancelRequest: ClientSession] = [:]
        var scramKeys: [String: SCRAMCredential] = [:]
        var pausedAll = false
        var pausedDatabases: Set<String> = []
        var disabledDatabases: Set<String> = []
        var shutdown: ShutdownMode?
    }

    func beginShutdown(_ mode: ShutdownMode) {
        state.withLockedValue { $0.shutdown = mode }
        shutdownStarted.store(true, ordering: .releasing)
    }

    /// The shutdown under way, if any. Without one, no lock is taken (it is asked per request).
    var shutdownMode: ShutdownMode? {
        guard shutdownStarted.load(ordering: .acquiring) else { return nil }
        return state.withLockedValue { $0.shutdown }
    }

    var isShuttingDown: Bool { shutdownStarted.load(ordering: .acquiring) }

    /// Query latency statistics, one shard per event loop.
    public let stats: QueryStatsRegistry
    /// Pool counters at the last `stats_period` boundaries, for the averages of SHOW STATS.
    let statsPeriods = StatsPeriodTracker()
    /// The admin console's own counters: each command is one transaction and one query of the
    /// `pgbouncer` database, as PgBouncer counts them in SHOW STATS and SHOW TOTALS.
    let consoleCounters = NIOLockedValueBox(PoolCounters())
    let statementNames = StatementNames()
    /// Numbers for sets of tracked parameter values (a server assignment compares two of them).
    let parameterSets = ParameterSetIDs()
    private let trackedParametersTemplate = NIOLockedValueBox<TrackedParameters?>(nil)

    /// An empty `TrackedParameters` for a new client. Copies of one template share its name
    /// table (copy-on-write) instead of building one per client: memory per idle client.
    func emptyTrackedParameters(extra: [String]) -> TrackedParameters {
        trackedParametersTemplate.withLockedValue { template in
            if let template, template.extraNames == extra { return template }
            let fresh = TrackedParameters(extra: extra)
            template = fresh
            return fresh
        }
    }
    /// Health of primaries and replicas, and the routing counters.
    public let routing = BackendRegistry()
    /// TLS contexts for clients and servers, rebuilt on reload.
    let tls = TLSContextStore()
    /// Secrets of users looked up with auth_query.
    public let authSecrets = AuthSecretCache()
    /// Client connections per database and user (max_db/user_client_connections).
    let clientLimits = ClientLimits()
    /// Query rate buckets of users and databases (query_rate_limit).
    let rateLimits: QueryRateLimits
    /// Spans waiting for export to otlp_endpoint.
    let spanExporter: SpanExporter
    /// Per-slot latency points for the dashboard's chart.
    let history = QueryHistoryStore()
    private let loopContexts: [ObjectIdentifier: LoopContext]
    /// Whether PAUSE is in effect for anything (changed under the state lock).
    private let anythingPaused = Atomic<Bool>(false)
    private let checkTrigger = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
    /// Whether a shutdown began (set once, under the state lock).
    private let shutdownStarted = Atomic<Bool>(false)

    public init(config: Config, secrets: [String: StoredSecret], group: EventLoopGroup, ioGroup: EventLoopGroup? = nil, logger: Logger) {
        self.group = group
        self.ioGroup = ioGroup ?? group
        self.logger = logger
        self.state = NIOLockedValueBox(State(config: config, secrets: secrets))
        let loops = group.makeIterator().map { $0 }
        self.stats = QueryStatsRegistry(shardCount: max(1, loops.count), settings: StatsSettings(config: config))
        self.rateLimits = QueryRateLimits(config: config)
        self.spanExporter = SpanExporter(logger: logger)
        spanExporter.configure(config)
        let classifier = SQLClassifier(writeFunctions: config.writeFunctions)
        var contexts: [ObjectIdentifier: LoopContext] = [:]
        for (index, loop) in loops.enumerated() {
            let context = LoopContext(index: index, stats: stats.shard(at: index), classifier: classifier,
                                      settings: HotSettings(config: config))
            context.tracer.configure(sampleRatio: config.traceSampleRatio, exporter: spanExporter)
            contexts[ObjectIdentifier(loop)] = context
        }
        self.loopContexts = contexts
        routing.configure(BackendTopology.of(config), maxLagMs: config.replicaMaxLagMs)
    }

    /// The context of `loop` (every loop of the group has one).
    func context(of loop: EventLoop) -> LoopContext {
        if let context = loopContexts[ObjectIdentifier(loop)] { return context }
        // A loop outside the group (tests with an embedded loop): a private context.
        let config = self.config
        return LoopContext(index: 0, stats: stats.shard(at: 0), classifier: SQLClassifier(writeFunctions: config.writeFunctions),
                           settings: HotSettings(config: config))
    }

    public var config: Config { state.withLockedValue { $0.config } }

    public func nextID() -> UInt64 {
        ids.withLockedValue { $0 += 1; return $0 }
    }

    var secrets: [String: StoredSecret] { state.withLockedValue { $0.secrets } }

    /// The user's secret: from the auth_file, else the last one `auth_query` returned.
    public func secret(for user: String) -> StoredSecret? {
        fileSecret(for: user) ?? authSecrets.latest(user)
    }

    /// The user's secret in the auth_file only.
    func fileSecret(for user: String) -> StoredSecret? {
        state.withLockedValue { $0.secrets[user] }
    }

    // MARK: clients

    func register(_ client: ClientSession) -> CancelRequest {
        state.withLockedValue { state in
            var key: CancelRequest
            repeat {
                key = CancelRequest(processID: Int32.random(in: 1...Int32.max), secretKey: Int32.random(in: Int32.min...Int32.max))
            } while state.cancelKeys[key] != nil
            state.clients[client.id] = client
            state.cancelKeys[key] = client
            return key
        }
    }

    func unregister(_ client: ClientSession) {
        state.withLockedValue { state in
            state.clients[client.id] = nil
            if let key = client.cancelKey { state.cancelKeys[key] = nil }
        }
    }

    func client(forCancelKey key: CancelRequest) -> ClientSession? {
        state.withLockedValue { $0.cancelKeys[key] }
    }

    public var clientCount: Int { state.withLockedValue { $0.clients.count } }

    func allClients() -> [ClientSession] {
        state.withLockedValue { Array($0.clients.values) }.sorted { $0.id < $1.id }
    }

    // MARK: SCRAM keys recovered from client logins

    func rememberSCRAMKeys(_ keys: SCRAMCredential, for user: String) {
        state.withLockedValue { $0.scramKeys[user] = keys }
    }

    func scramKeys(for user: String) -> SCRAMCredential? {
        state.withLockedValue { $0.scramKeys[user] }
    }

    // MARK: pools

    /// The pool for a client's (database, user), created on first use. Nil when the database is
    /// not configured.
    func pool(database: String, user: String) -> ServerPool? {
        pool(database: database, user: user, address: nil)
    }

    /// The pool of a replica (or, with `address` nil, of the primary) of a client's database.
    func pool(database: String, user: String, address: BackendAddress?) -> ServerPool? {
        let config = self.config
        guard let entry = config.database(named: database), let primary = entry.hosts.first else { return nil }
        let replicaAddress = address
        let address = address ?? primary
        let serverUser = entry.user ?? user
        let key = PoolKey(database: database, user: serverUser, address: address, replica: replicaAddress != nil)
        let existing = state.withLockedValue { $0.pools[key] }
        // A database removed by a reload and added again gets a new pool: the old one is retired.
        // (Asked outside the state lock: a pool takes its own lock first, then the state's.)
        if let existing, !existing.isRetired { return existing }
        let fresh = ServerPool(key: key, entry: entry, runtime: self, settings: config.poolSettings(database: entry, user: serverUser))
        let isAuto = !config.databases.contains { $0.name == database }
        var registered = false
        let pool = state.withLockedValue { state -> ServerPool in
            if let current = state.pools[key], current !== existing { return current }
            state.pools[key] = fresh
            if isAuto { registered = state.autoDatabases.insert(database).inserted }
            return fresh
        }
        if registered { logger.info("registered new auto-database: db=\(database)") }
        return pool
    }

    /// A pool that already exists (no creation), for a replica's load figures.
    func existingPool(database: String, user: String, address: BackendAddress) -> ServerPool? {
        let serverUser = config.database(named: database)?.user ?? user
        return state.withLockedValue { $0.pools[PoolKey(database: database, user: serverUser, address: address, replica: true)] }
    }

    func allPools() -> [ServerPool] {
        state.withLockedValue { Array($0.pools.values) }.sorted {
            ($0.key.database, $0.key.user) < ($1.key.database, $1.key.user)
        }
    }

    /// Credentials for logging in to a server as `user` of `entry`.
    func credentials(for entry: DatabaseConfig, user: String) -> ServerCredentials {
        var credentials = ServerCredentials(user: user)
        if let password = entry.password, entry.user == nil || entry.user == user {
            credentials.password = password
            return credentials
        }
        switch secret(for: user) {
        case .plain(let password)?: credentials.password = password
        case .md5(let hash)?: credentials.md5Secret = hash
        case .scram?: credentials.scramKeys = scramKeys(for: user)
        case nil: break
        }
        return credentials
    }

    // MARK: following `hosts=` primaries

    /// Set by the server: starts a round of health checks at once.
    func setBackendCheckTrigger(_ trigger: @escaping @Sendable () -> Void) {
        checkTrigger.withLockedValue { $0 = trigger }
    }

    /// A pool could not reach the server it took for its database's primary.
    func checkBackendsSoon() {
        checkTrigger.withLockedValue { $0 }?()
    }

    /// After each round of a `hosts=` database: its primary pools connect where the round found
    /// the primary. Pools of names served through a `*` entry with `hosts=` follow it too.
    func applyDiscovery(_ discovery: DiscoveredDatabase) {
        for pool in allPools() where pool.entryName == discovery.database && !pool.key.replica {
            pool.setPrimary(discovery.verdict)
        }
    }

    // MARK: pause / disable

    /// Asked on every lend and release: without a PAUSE in effect it takes no shared lock.
    func isPaused(database: String) -> Bool {
        guard anythingPaused.load(ordering: .acquiring) else { return false }
        return state.withLockedValue { $0.pausedAll || $0.pausedDatabases.contains(database) }
    }

    func isDisabled(database: String) -> Bool {
        state.withLockedValue { $0.disabledDatabases.contains(database) }
    }

    /// Whether PAUSE without a database is in effect.
    var isPausedAll: Bool { state.withLockedValue { $0.pausedAll } }

    /// Whether `PAUSE database` names this database (SHOW DATABASES' `paused`: as in PgBouncer, a
    /// PAUSE of everything leaves each database's own flag at 0).
    func isPausedByName(database: String) -> Bool {
        state.withLockedValue { $0.pausedDatabases.contains(database) }
    }

    /// PAUSE (`database` nil: all) sets, RESUME clears the flag pools consult before lending.
    func setPaused(_ paused: Bool, database: String?) {
        state.withLockedValue { state in
            if let database {
                if paused { state.pausedDatabases.insert(database) } else { state.pausedDatabases.remove(database) }
            } else {
                state.pausedAll = paused
                if !paused { state.pausedDatabases.removeAll() }
            }
            anythingPaused.store(state.pausedAll || !state.pausedDatabases.isEmpty, ordering: .releasing)
        }
    }

    /// DISABLE / ENABLE: a disabled database refuses new client logins.
    func setDisabled(_ disabled: Bool, database: String) {
        state.withLockedValue { state in
            if disabled { state.disabledDatabases.insert(database) } else { state.disabledDatabases.remove(database) }
        }
    }

    /// Every user name the proxy knows (auth_file and `[users]`), sorted, for SHOW USERS.
    var knownUserNames: [String] {
        let (secrets, config) = state.withLockedValue { ($0.secrets, $0.config) }
        return Array(Set(secrets.keys).union(config.users.map(\.name))).sorted()
    }

    /// A database with a forced user (`user=`) and a min_pool_size has its pool from the start, as
    /// in PgBouncer: the maintenance opens its servers before any client comes. Other pools exist
    /// once a client used them (their user is not known before).
    func openMinimumPools(config: Config) {
        for entry in config.databases where !entry.isFallback {
            guard let user = entry.user, config.poolSettings(database: entry, user: user).minPoolSize > 0 else { continue }
            _ = pool(database: entry.name, user: user)
        }
    }

    /// Replaces the configuration and keeps the user list (console SET).
    func apply(config newConfig: Config) {
        apply(config: newConfig, secrets: state.withLockedValue { $0.secrets })
    }

    // MARK: reload

    /// Replaces the configuration and user list, then lets every pool pick up its new settings.
    public func apply(config newConfig: Config, secrets: [String: StoredSecret]) {
        stats.reconfigure(StatsSettings(config: newConfig))
        rateLimits.configure(newConfig)
        spanExporter.configure(newConfig)
        routing.configure(BackendTopology.of(newConfig), maxLagMs: newConfig.replicaMaxLagMs)
        let hot = HotSettings(config: newConfig)
        let classifier = SQLClassifier(writeFunctions: newConfig.writeFunctions)
        for (loop, context) in zip(group.makeIterator().map { $0 }, group.makeIterator().map { self.context(of: $0) }) {
            loop.execute { [spanExporter] in
                context.settings = hot
                context.classifications = ClassificationCache(classifier: classifier)
                context.tracer.configure(sampleRatio: newConfig.traceSampleRatio, exporter: spanExporter)
            }
        }
        let pools: [ServerPool] = state.withLockedValue { state in
            state.config = newConfig
            state.secrets = secrets
            return Array(state.pools.values)
        }
        openMinimumPools(config: newConfig)
        for pool in pools {
            if let entry = newConfig.database(named: pool.key.database) {
                pool.update(entry: entry, settings: newConfig.poolSettings(database: entry, user: pool.key.user))
            } else {
                pool.retire()
            }
        }
    }
}

/// A pool serves one (client-facing database name, server user, backend address).
public struct PoolKey: Hashable, Sendable {
    public var database: String
    public var user: String
    /// A replica's address, or the primary's (for a `host=` list or `hosts=`, the first listed:
    /// the pool itself picks where each connection goes).
    public var address: BackendAddress
    /// A replica's pool: reads only. With `hosts=` a server may have both a primary pool and a
    /// replica pool, of which one is idle (its role decides).
    public var replica: Bool = false
}



/// Server-side names for prepared statements, shared by every client preparing the same text and
/// parameter types. Names are never reused within a process, so a server never runs another
/// statement under a name it knows.
final class StatementNames: @unchecked Sendable {
    private struct Key: Hashable {
        var query: String
        var types: [UInt32]
    }

    private let lock = NIOLock()
    private var names: [Key: String] = [:]
    private var next: UInt64 = 0
    private let limit = 100_000

    func name(for query: String, types: [UInt32]) -> String {
        lock.withLock {
            let key = Key(query: query, types: types)
            if let name = names[key] { return name }
            if names.count >= limit { names.removeAll() }
            next += 1
            let name = "pgrelay_\(next)"
            names[key] = name
            return name
        }
    }
}
