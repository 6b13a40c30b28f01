import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PGRelayCore

/// Checks, every `replica_check_interval_s`, the primary and the replicas of each database that
/// has `replicas=`, and writes the outcome to a ``BackendRegistry``. Per database, the primary is
/// asked first (its WAL position is the yardstick for the replicas' lag), then the replicas at
/// once. Each check is bounded by the interval (at least 1 s), so a round never hangs.
///
/// The servers of a `hosts=` database are asked all at once and their answers elect the primary
/// (``PrimaryDiscovery``). While such a database has no primary, rounds come every quarter of
/// `failover_detect_ms` instead, and ``checkSoon()`` (a pool that cannot reach the primary) starts
/// one at once: a promoted server is found within `failover_detect_ms`.
///
/// State changes are logged once per transition: a warning when a backend goes down or lags, an
/// error when its role is wrong (promoted replica, primary in recovery), info when it recovers.
public final class ReplicaHealthChecker: @unchecked Sendable {
    private let group: EventLoopGroup
    private let loop: EventLoop
    private let registry: BackendRegistry
    private let configuration: @Sendable () -> Config
    private let login: @Sendable (DatabaseConfig) -> HealthCheckLogin.Plan
    private let client: InternalQueryClient
    private let logger: Logger
    private let schedule = NIOLockedValueBox(Schedule())
    /// Told the outcome of every `hosts=` round (the runtime points the pools at the primary).
    private let onDiscovery: @Sendable (DiscoveredDatabase, [PrimaryDiscovery.Event]) -> Void

    private struct Schedule {
        var running = false
        /// Bumped by each start, so a round begun before a stop/start pair does not reschedule.
        var generation = 0
        var next: Scheduled<Void>?
        /// A round is under way; `checkSoon` then asks for another right after it.
        var inRound = false
        var againAfterRound = false
    }

    /// - Parameters:
    ///   - configuration: the current configuration, read at every round (reloads apply).
    ///   - login: who logs in to check a database's backends (``HealthCheckLogin``, asked at every
    ///     round: keys recovered from client logins appear over time); without credentials that
    ///     database's backends are down, with the plan's problem as the reason.
    public convenience init(group: EventLoopGroup, registry: BackendRegistry,
                            configuration: @escaping @Sendable () -> Config,
                            login: @escaping @Sendable (DatabaseConfig) -> HealthCheckLogin.Plan,
                            logger: Logger) {
        self.init(group: group, registry: registry, configuration: configuration, login: login,
                  serverTLS: nil, logger: logger, onDiscovery: { _, _ in })
    }

    /// As above; the checks use the server TLS setup in use, as the pooled connections do.
    init(group: EventLoopGroup, registry: BackendRegistry,
         configuration: @escaping @Sendable () -> Config,
         login: @escaping @Sendable (DatabaseConfig) -> HealthCheckLogin.Plan,
         serverTLS: TLSContextStore?, logger: Logger,
         onDiscovery: @escaping @Sendable (DiscoveredDatabase, [PrimaryDiscovery.Event]) -> Void) {
        self.onDiscovery = onDiscovery
        self.group = group
        self.loop = group.next()
        self.registry = registry
        self.configuration = configuration
        self.login = login
        self.client = InternalQueryClient(group: group, serverTLS: serverTLS)
        self.logger = logger
    }

    /// Starts periodic checks; the first round runs at once. Calling it twice does nothing.
    public func start() {
        let generation = schedule.withLockedValue { schedule -> Int? in
            guard !schedule.running else { return nil }
            schedule.running = true
            schedule.generation += 1
            return schedule.generation
        }
        if let generation { runRound(generation) }
    }

    /// Stops periodic checks. A round under way finishes and updates the registry.
    public func stop() {
        schedule.withLockedValue { schedule in
            schedule.running = false
            schedule.next?.cancel()
            schedule.next = nil
        }
    }

    /// Starts a round now (or right after the one under way) instead of at its time: a pool of a
    /// `hosts=` database could not reach the server it took for the primary.
    public func checkSoon() {
        let generation = schedule.withLockedValue { schedule -> Int? in
            guard schedule.running else { return nil }
            if schedule.inRound {
                schedule.againAfterRound = true
                return nil
            }
            schedule.next?.cancel()
            schedule.next = nil
            return schedule.generation
        }
        if let generation { loop.execute { [self] in runRound(generation) } }
    }

    private func runRound(_ generation: Int) {
        let begin = schedule.withLockedValue { schedule -> Bool in
            guard schedule.running, schedule.generation == generation, !schedule.inRound else { return false }
            schedule.inRound = true
            schedule.againAfterRound = false
            return true
        }
        guard begin else { return }
        checkNow().whenComplete { [self] _ in
            let config = configuration()
            let delay = registry.snapshot.databases.values.contains { $0.discovery.map { $0.verdict.primary == nil } ?? false }
                ? Self.fastInterval(config) : Self.interval(config)
            schedule.withLockedValue { schedule in
                schedule.inRound = false
                guard schedule.running, schedule.generation == generation else { return }
                let wait = schedule.againAfterRound ? .zero : delay
                schedule.next = loop.scheduleTask(in: wait) { [self] in runRound(generation) }
            }
        }
    }

    /// `replica_check_interval_s`, at least 1 s: the period of rounds and the bound on one check.
    static func interval(_ config: Config) -> TimeAmount {
        .nanoseconds(Int64(max(config.replicaCheckIntervalS, 1) * 1e9))
    }

    /// The period of rounds while a `hosts=` database has no primary: a quarter of
    /// `failover_detect_ms`, at least 100 ms, at most the usual interval.
    static func fastInterval(_ config: Config) -> TimeAmount {
        let milliseconds = min(max(config.failoverDetectMs / 4, 100), max(config.replicaCheckIntervalS, 1) * 1000)
        return .nanoseconds(Int64(milliseconds * 1e6))
    }

    /// Runs one round now: syncs the registry with the configuration, checks every backend, and
    /// records the results. The future never fails; check failures are health, not errors.
    public func checkNow() -> EventLoopFuture<Void> {
        let config = configuration()
        registry.configure(BackendTopology.of(config), maxLagMs: config.replicaMaxLagMs)
        let timeout = Self.interval(config)
        let rounds = config.databases.filter { $0.needsHealthChecks && !$0.hosts.isEmpty }.map { entry in
            entry.discoversPrimary
                ? checkDiscovered(entry, maxLagMs: config.replicaMaxLagMs, timeout: timeout)
                : checkDatabase(entry, maxLagMs: config.replicaMaxLagMs, timeout: timeout)
        }
        return EventLoopFuture.andAllComplete(rounds, on: loop)
    }

    private func checkDatabase(_ entry: DatabaseConfig, maxLagMs: Double, timeout: TimeAmount) -> EventLoopFuture<Void> {
        let snapshot = registry.snapshot
        guard let backends = snapshot.databases[entry.name] else { return loop.makeSucceededVoidFuture() }
        let plan = self.login(entry)
        guard case .login(let login) = plan else {
            let problem = Self.loginProblem(plan)
            record(backends.all.map { previous in
                HealthCheck.evaluate(previous: previous, outcome: .failure(problem), primaryPosition: nil, maxLagMs: maxLagMs, now: .now())
            }, previous: snapshot)
            return loop.makeSucceededVoidFuture()
        }
        let database = Self.checkedDatabase(entry)
        return probe(backends.primary.id.address, database: database, login: login, timeout: timeout)
            .flatMap { [self] primaryOutcome -> EventLoopFuture<Void> in
                let primary = HealthCheck.evaluate(previous: backends.primary, outcome: primaryOutcome, primaryPosition: nil,
                                                   maxLagMs: maxLagMs, now: .now())
                // Only a primary that really is one gives the yardstick.
                let position = primary.status == .up ? (try? primaryOutcome.get())?.currentPosition : nil
                let replicas = backends.replicas.map { previous in
                    probe(previous.id.address, database: database, login: login, timeout: timeout).map { outcome in
                        HealthCheck.evaluate(previous: previous, outcome: outcome, primaryPosition: position,
                                             maxLagMs: maxLagMs, now: .now())
                    }
                }
                return EventLoopFuture.whenAllSucceed(replicas, on: loop).map { [self] replicaHealth in
                    record([primary] + replicaHealth, previous: snapshot)
                }
            }
    }

    /// A `hosts=` database: every server at once, then the election.
    private func checkDiscovered(_ entry: DatabaseConfig, maxLagMs: Double, timeout: TimeAmount) -> EventLoopFuture<Void> {
        guard let discovery = registry.snapshot.databases[entry.name]?.discovery else { return loop.makeSucceededVoidFuture() }
        let plan = self.login(entry)
        let outcomes: EventLoopFuture<[Result<HealthCheck.Probe, HealthCheck.ProbeError>]>
        if case .login(let login) = plan {
            let database = Self.checkedDatabase(entry)
            outcomes = EventLoopFuture.whenAllSucceed(discovery.members.map { member in
                probe(member.id.address, database: database, login: login, timeout: timeout)
            }, on: loop)
        } else {
            let problem = Self.loginProblem(plan)
            outcomes = loop.makeSucceededFuture(discovery.members.map { _ in .failure(problem) })
        }
        return outcomes.map { [self] outcomes in
            // The registry may have been reconfigured by a reload while the probes ran.
            guard let current = registry.snapshot.databases[entry.name]?.discovery,
                  current.members.map(\.id.address) == discovery.members.map(\.id.address) else { return }
            let (next, events) = PrimaryDiscovery.evaluate(previous: current, outcomes: outcomes, maxLagMs: maxLagMs,
                                                           now: .now(), wallClock: Date().timeIntervalSince1970)
            registry.update(next)
            for (old, new) in zip(current.members, next.members) where new.status != .splitBrain {
                logTransition(from: old.status, to: new)
            }
            log(events, database: entry.name, discovery: next)
            onDiscovery(next, events)
        }
    }

    /// The database the checks log in to: the entry's `dbname`, or for the `*` entry, which has
    /// no name of its own, `postgres`.
    private static func checkedDatabase(_ entry: DatabaseConfig) -> String {
        entry.dbname ?? (entry.isFallback ? "postgres" : entry.name)
    }

    /// Why checks cannot log in: what every backend of the database is `down` with.
    private static func loginProblem(_ plan: HealthCheckLogin.Plan) -> HealthCheck.ProbeError {
        HealthCheck.ProbeError(plan.problem ?? "no credentials to log in for health checks")
    }

    /// One line per change of a `hosts=` database's roles, as operators expect from a failover.
    private func log(_ events: [PrimaryDiscovery.Event], database: String, discovery: DiscoveredDatabase) {
        func timeline(_ address: BackendAddress) -> Logger.MetadataValue? {
            discovery.members.first { $0.id.address == address }?.timeline.map { "\($0)" }
        }
        for event in events {
            switch event {
            case .roleChanged(let address, let from, let to):
                logger.warning("server changed role", metadata: [
                    "database": "\(database)", "backend": "\(address)", "previous_role": "\(from.rawValue)", "role": "\(to.rawValue)",
                ])
            case .primaryFound(let address):
                var metadata: Logger.Metadata = ["database": "\(database)", "primary": "\(address)"]
                metadata["timeline"] = timeline(address)
                logger.info("primary found", metadata: metadata)
            case .failover(let from, let to):
                var metadata: Logger.Metadata = [
                    "database": "\(database)", "previous_primary": "\(from)", "primary": "\(to)", "failovers": "\(discovery.failovers)",
                ]
                metadata["timeline"] = timeline(to)
                logger.warning("primary moved to another server: new writes go there", metadata: metadata)
            case .primaryLost(let reason):
                logger.error("no primary: writes wait for one (up to query_wait_timeout)",
                             metadata: ["database": "\(database)", "reason": "\(reason)"])
            case .splitBrain(let addresses):
                logger.error("split brain: writes stopped",
                             metadata: ["database": "\(database)",
                                        "reason": "\(PrimaryVerdict.splitBrainMessage(database: database, primaries: addresses))"])
            }
        }
    }

    /// Runs the health query on one backend; the outcome never fails the future.
    private func probe(_ address: BackendAddress, database: String, login: ServerCredentials,
                       timeout: TimeAmount) -> EventLoopFuture<Result<HealthCheck.Probe, HealthCheck.ProbeError>> {
        client.query(HealthCheck.query, address: address, database: database, credentials: login, timeout: timeout, maxRows: 1)
            .hop(to: loop)
            .map { result in
                do {
                    return .success(try HealthCheck.Probe(result: result))
                } catch let error as HealthCheck.ProbeError {
                    return .failure(error)
                } catch {
                    return .failure(HealthCheck.ProbeError("\(error)"))
                }
            }
            .recover { error in .failure(HealthCheck.ProbeError("\(error)")) }
    }

    private func record(_ results: [BackendState], previous: RoutingSnapshot) {
        registry.update(results)
        for health in results {
            logTransition(from: previous.health(of: health.id)?.status ?? .unknown, to: health)
        }
    }

    private func logTransition(from old: BackendState.Status, to health: BackendState) {
        guard old != health.status else { return }
        var metadata: Logger.Metadata = [
            "database": "\(health.id.database)", "backend": "\(health.id.address)", "role": "\(health.id.role.rawValue)",
            "status": "\(health.status.rawValue)", "previous_status": "\(old.rawValue)",
        ]
        if let error = health.lastError { metadata["reason"] = "\(error)" }
        if health.id.role == .replica, health.lagMs.isFinite { metadata["lag_ms"] = "\(Int(health.lagMs))" }
        switch health.status {
        case .up:
            logger.info("backend is healthy", metadata: metadata)
        case .down:
            logger.warning("backend failed its health check; no reads go there until it recovers", metadata: metadata)
        case .lagging:
            logger.warning("replica lags more than replica_max_lag_ms; no reads go there until it catches up", metadata: metadata)
        case .wrongRole:
            logger.error("backend's role differs from the configuration; routing around it", metadata: metadata)
        case .unknown, .splitBrain:
            break
        }
    }
}
