import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PGRelayCore
import PGRelayEngine
import PGWire

/// The running proxy: listeners on TCP (and the Unix socket), the pool maintenance timer, reload
/// and graceful shutdown.
public final class ProxyServer: @unchecked Sendable {
    public let runtime: ProxyRuntime
    public let configPath: String
    /// The engine's reactors: client and server connections, one thread per core.
    private let reactors: ReactorGroup
    /// NIO's loops: TLS connections, health checks, cancel requests, timers of the maintenance.
    private let group: MultiThreadedEventLoopGroup
    let sink: LogSink
    private var listeners: [Listener] = []
    /// The TCP listeners (tcp_defer_accept changes reach them on reload).
    private var tcpListeners: [Listener] = []
    /// Open while a shutdown waits, for the admin console (as PgBouncer).
    private var unixListener: Listener?
    private var maintenance: RepeatedTask?
    private var clientMaintenance: RepeatedTask?
    private var healthChecker: ReplicaHealthChecker?
    private let shutdownPromise: EventLoopPromise<Void>
    private let stopping = NIOLockedValueBox<ShutdownMode?>(nil)
    /// The HTTP admin API, on its own thread so that it answers while the proxy loops are busy.
    private var adminHTTP: AdminHTTPServer?
    private var adminGroup: MultiThreadedEventLoopGroup?
    /// Takes the dashboard's history points, on the admin API's thread.
    private var historyTask: RepeatedTask?

    public var logger: Logger { runtime.logger }

    public init(config: Config, secrets: [String: StoredSecret], configPath: String, sink: LogSink, threads: Int? = nil) {
        let threads = threads ?? Self.reactorCount(config: config, environment: ProcessInfo.processInfo.environment)
        self.configPath = configPath
        self.sink = sink
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        do {
            self.reactors = try ReactorGroup(workers: max(1, threads), namePrefix: "pgrelay-reactor")
        } catch {
            // epoll_create1 or eventfd refused: nothing can run without them.
            fatalError("cannot start the reactors: \(error)")
        }
        let logger = Logger(label: "pgrelay") { PGRelayLogHandler(label: $0, sink: sink) }
        self.runtime = ProxyRuntime(config: config, secrets: secrets, group: reactors, ioGroup: group, logger: logger)
        self.shutdownPromise = group.next().makePromise()
        self.runtime.controller = self
    }

    /// Reactor threads: `workers` from the config, 0 meaning one per core; the environment's
    /// `PGRELAY_THREADS` overrides it (benchmark and profiling scripts pin the count with it).
    static func reactorCount(config: Config, environment: [String: String]) -> Int {
        if let pinned = environment["PGRELAY_THREADS"].flatMap({ Int($0) }), pinned > 0 { return pinned }
        return config.workers > 0 ? config.workers : System.coreCount
    }

    /// `-q`: no log lines on stderr, kept across reloads.
    public var quiet = false
    /// `-v`: debug logging, kept across reloads.
    public var verbose = false

    /// The TCP port actually bound (useful with listen_port = 0 in tests).
    public private(set) var boundPort: Int?

    public func start() throws {
        do {
            try startListening()
        } catch {
            // Nothing will run: release what was bound so the process can exit cleanly.
            for listener in listeners { try? listener.close().wait() }
            tcpListeners = []
            unixListener = nil
            listeners = []
            maintenance?.cancel()
            clientMaintenance?.cancel()
            healthChecker?.stop()
            shutdownPromise.succeed(())
            throw error
        }
    }

    private func startListening() throws {
        let config = runtime.config
        try runtime.tls.rebuild(from: config)
        var port = config.listenPort
        for address in try ListenAddresses.resolve(config.listenAddresses, port: port) {
            // listen_port = 0 (tests): every address gets the port the first one was given.
            let bound = try listen(on: address.withPort(port), unix: false)
            tcpListeners.append(bound)
            port = bound.localAddress.port ?? port
        }
        boundPort = tcpListeners.isEmpty ? nil : port
        if !config.unixSocketDir.isEmpty {
            let path = (config.unixSocketDir as NSString).appendingPathComponent(".s.PGSQL.\(config.listenPort)")
            do {
                ListenAddresses.removeStaleSocketFile(path)
                let unix = try listen(on: SocketAddress(unixDomainSocketPath: path), unix: true)
                unixListener = unix
                UnixSocketPermissions(mode: config.unixSocketMode, group: config.unixSocketGroup).apply(path: path, logger: logger)
            } catch {
                logger.warning("could not listen on unix socket", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        // Pools are looked after three times a second, as PgBouncer's janitor does: a server idle
        // past server_idle_timeout is closed within a third of a second, not a whole one. Client
        // timeouts (a task per client) are checked once a second.
        runtime.openMinimumPools(config: config)
        maintenance = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(333), delay: .milliseconds(333)) { [runtime] _ in
            let now = NIODeadline.now()
            for pool in runtime.allPools() { pool.maintain(now: now) }
        }
        clientMaintenance = group.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [runtime] _ in
            let now = NIODeadline.now()
            runtime.rollStatsPeriod(now: now)
            let limits = ClientTimeouts(config: runtime.config)
            if limits.any {
                for client in runtime.allClients() { client.onLoop { client.checkTimeouts(now: now, limits: limits) } }
            }
        }
        let runtime = self.runtime
        let checker = ReplicaHealthChecker(group: group, registry: runtime.routing,
                                           configuration: { runtime.config },
                                           login: { entry in runtime.healthCheckPlan(for: entry) },
                                           serverTLS: runtime.tls, logger: logger,
                                           onDiscovery: { discovery, _ in runtime.applyDiscovery(discovery) })
        healthChecker = checker
        runtime.setBackendCheckTrigger { [weak checker] in checker?.checkSoon() }
        if config.databases.contains(where: \.needsHealthChecks) { checker.start() }
        for warning in HealthCheckLogin.startupWarnings(config: config, secrets: runtime.secrets) { logger.warning("\(warning)") }
        logger.info("listening", metadata: ["addr": "\(config.listenAddr)", "port": "\(boundPort ?? config.listenPort)"])
        try startAdminHTTP(config: config)
        // Only the admin API shows the history: without it nothing is sampled.
        historyTask = adminGroup?.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [runtime] _ in
            runtime.history.sample(runtime.stats, monotonicNow: NIODeadline.now().uptimeNanoseconds, wallNow: Date())
        }
    }

    /// The port the HTTP admin API is bound to; nil when admin_port = 0 (off) or not started.
    public var adminHTTPPort: Int? { adminHTTP?.localPort }

    private func startAdminHTTP(config: Config) throws {
        guard config.adminPort != 0 else {
            logger.info("admin HTTP API off (admin_port = 0)")
            return
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = AdminHTTPServer(group: group, host: config.adminAddr, port: config.adminPort, api: ProxyAdminAPI(server: self),
                                     reusePort: config.soReuseport)
        do {
            try server.start().wait()
        } catch {
            try? group.syncShutdownGracefully()
            if !config.adminPortIsSet, Self.isAddressInUse(error) {
                // Another instance on this host has the default port: a pgbouncer.ini that does
                // not know admin_port must still start, as it does with PgBouncer.
                logger.warning("admin HTTP API not started: port \(config.adminPort) is in use (set admin_port to a free port, or 0)")
                return
            }
            throw error
        }
        adminGroup = group
        adminHTTP = server
        logger.info("admin HTTP API listening", metadata: ["addr": "\(config.adminAddr)", "port": "\(server.localPort ?? config.adminPort)"])
    }

    private static func isAddressInUse(_ error: Error) -> Bool {
        (error as? IOError)?.errnoCode == EADDRINUSE
    }

    /// A listener on the engine: each accepted client becomes a session on the reactor it was
    /// handed to. Options are read per connection, so that a reload changes those of new clients.
    private func listen(on address: SocketAddress, unix: Bool) throws -> Listener {
        let runtime = self.runtime
        let config = runtime.config
        var options: [PGRelayEngine.SocketOption] = []
        if !unix {
            options.append(PGRelayEngine.SocketOption(level: SOL_SOCKET, name: SO_REUSEPORT, value: config.soReuseport ? 1 : 0, label: "SO_REUSEPORT"))
            options += TCPSocketSettings(config: config).listener
        }
        let logger = self.logger
        let listener = try Listener(address: address, group: reactors, backlog: Int32(clamping: config.listenBacklog), socketOptions: options,
                                    onError: { error in logger.warning("accept failed", metadata: ["error": "\(error)"]) }) { connection in
            if !unix {
                for option in TCPSocketSettings(config: runtime.config).connection { try? connection.setOption(option) }
            }
            ClientSession.start(runtime: runtime, connection: connection, isUnixSocket: unix)
        }
        listeners.append(listener)
        return listener
    }

    // MARK: reload

    /// Re-reads the configuration file and the auth_file. An invalid file keeps the running
    /// configuration; the returned message says why.
    @discardableResult
    public func reload() -> Result<[String], Error> {
        do {
            let loaded = try ConfigLoader.load(path: configPath)
            let secrets = try ProxyServer.loadSecrets(config: loaded.config, relativeTo: configPath)
            for warning in loaded.warnings { logger.warning("\(warning.description)") }
            if let missing = ProxyServer.authFileWarning(config: loaded.config, relativeTo: configPath) { logger.error("\(missing)") }
            // New certificate files take effect for new connections; open client connections keep
            // theirs, server connections are replaced when the server side changed.
            let tls = try TLSContextStore.build(from: loaded.config)
            let old = runtime.config
            runtime.apply(config: loaded.config, secrets: secrets)
            install(tls: tls)
            configureLogSink(for: loaded.config)
            applyListenerSettings(for: loaded.config)
            if old.listenPort != loaded.config.listenPort || old.listenAddr != loaded.config.listenAddr {
                logger.warning("listen_addr/listen_port changes need a restart")
            }
            logger.info("configuration reloaded", metadata: ["file": "\(configPath)"])
            for pool in runtime.allPools() { pool.resumeWaiters() }
            if loaded.config.databases.contains(where: \.needsHealthChecks) { healthChecker?.start() }
            let loginWarnings = HealthCheckLogin.startupWarnings(config: loaded.config, secrets: secrets)
            for warning in loginWarnings { logger.warning("\(warning)") }
            return .success(loaded.warnings.map(\.description) + loginWarnings)
        } catch {
            logger.error("reload failed, keeping the running configuration", metadata: ["error": "\(error)"])
            return .failure(error)
        }
    }

    /// The auth_file's users. A file that does not exist yet is no user at all, as in PgBouncer:
    /// pgrelay starts (logins that need a secret fail until the file exists and is reloaded) and
    /// `authFileWarning` says so. A file that exists but cannot be read or parsed is an error.
    public static func loadSecrets(config: Config, relativeTo configPath: String) throws -> [String: StoredSecret] {
        guard let path = authFilePath(config: config, relativeTo: configPath), FileManager.default.fileExists(atPath: path) else {
            return [:]
        }
        return try AuthFile.load(path: path).mapValues { StoredSecret(parsing: $0) }
    }

    /// PgBouncer's words when the auth_file is missing (nil when it exists or none is set).
    public static func authFileWarning(config: Config, relativeTo configPath: String) -> String? {
        guard let path = authFilePath(config: config, relativeTo: configPath), !FileManager.default.fileExists(atPath: path) else {
            return nil
        }
        return "could not open auth_file \(path): No such file or directory"
    }

    /// The auth_file's path; a relative name is relative to the config file.
    private static func authFilePath(config: Config, relativeTo configPath: String) -> String? {
        guard !config.authFile.isEmpty else { return nil }
        if config.authFile.hasPrefix("/") { return config.authFile }
        return ((configPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(config.authFile)
    }

    /// Points the log sink at `config`'s format, level and logfile. `-v` and `-q` keep their
    /// effect, and `verbose = N` raises the level to debug as N times `-v` does.
    func configureLogSink(for config: Config) {
        sink.configure(format: config.logFormat == .json ? .json : .text,
                       level: verbose || config.verbose > 0 ? .debug : ProxyServer.logLevel(config.logLevel),
                       logfile: config.logfile, quiet: quiet)
    }

    /// tcp_defer_accept after a reload or `SET`: the open TCP listeners get the new value.
    func applyListenerSettings(for config: Config) {
        for listener in tcpListeners {
            for option in TCPSocketSettings(config: config).listener {
                listener.setOption(option).whenFailure { [logger] error in
                    logger.warning("could not change the TCP listener's options", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    public static func logLevel(_ level: LogLevel) -> Logger.Level {
        switch level.rawValue {
        case "debug", "trace": return .debug
        case "warning", "warn": return .warning
        case "error", "fatal": return .error
        default: return .info
        }
    }

    // MARK: shutdown

    /// Starts a shutdown in `mode` (see `ShutdownMode`); `waitUntilStopped` returns when it is
    /// done. A second request while one waits stops at once, as PgBouncer's second SIGTERM/SIGINT.
    /// `signal` names the signal that asked, for the log line PgBouncer writes.
    public func shutdown(_ requested: ShutdownMode, signal: String? = nil) {
        let (mode, first) = stopping.withLockedValue { current -> (ShutdownMode?, Bool) in
            guard let running = current else {
                current = requested
                return (requested, true)
            }
            guard running != .immediate else { return (nil, false) }
            current = .immediate
            return (.immediate, false)
        }
        guard let mode else { return }
        switch (first, mode, signal) {
        case (false, _, let signal?): logger.info("got \(signal) while shutting down, fast exit")
        case (false, _, nil): logger.info("shutdown requested while shutting down, fast exit")
        case (true, .waitForClients, let signal?): logger.info("got \(signal), shutting down, waiting for all clients disconnect")
        case (true, .waitForServers, let signal?): logger.info("got \(signal), shutting down, waiting for all servers connections to be released")
        case (true, .immediate, let signal?): logger.info("got \(signal), fast exit")
        case (true, _, nil): logger.info("shutting down", metadata: ["mode": "\(mode)"])
        }
        runtime.beginShutdown(mode)
        // New connections stop at once; the Unix socket stays for the admin console while waiting.
        for listener in listeners where mode == .immediate || listener !== unixListener { listener.close() }
        guard first else {
            // The running shutdown's poll sees the mode change and finishes.
            return
        }
        let timeout = runtime.config.shutdownTimeout
        let deadline = timeout > 0 ? NIODeadline.now() + .nanoseconds(Int64(timeout * 1e9)) : nil
        let loop = group.next()
        func poll() {
            let current = runtime.shutdownMode ?? .immediate
            let done: Bool
            switch current {
            case .immediate: done = true
            case .waitForServers: done = runtime.allPools().allSatisfy { $0.counts().active == 0 }
            case .waitForClients: done = runtime.allClients().isEmpty
            }
            if done || deadline.map({ NIODeadline.now() >= $0 }) == true {
                switch current {
                case .waitForServers where done: logger.info("server connections dropped, exiting")
                case .waitForClients where done: logger.info("client connections dropped, exiting")
                default: break
                }
                for client in runtime.allClients() { client.onLoop { client.shutdownClose() } }
                finish()
                return
            }
            loop.scheduleTask(in: .milliseconds(50)) { poll() }
        }
        @Sendable func finish() {
            loop.scheduleTask(in: .milliseconds(50)) { [self] in
                for listener in listeners { listener.close() }
                for pool in runtime.allPools() { pool.retire() }
                maintenance?.cancel()
                clientMaintenance?.cancel()
                historyTask?.cancel()
                healthChecker?.stop()
                let admin = adminHTTP
                adminHTTP = nil
                if let admin {
                    admin.stop().whenComplete { [self] _ in shutdownPromise.succeed(()) }
                } else {
                    shutdownPromise.succeed(())
                }
            }
        }
        loop.execute { poll() }
    }

    static let serverShuttingDown = ErrorFields(severity: "FATAL", sqlState: "57P01", message: "server shutting down")

    public func waitUntilStopped() throws {
        try shutdownPromise.futureResult.wait()
        runtime.spanExporter.shutdown()
        try? adminGroup?.syncShutdownGracefully()
        try? reactors.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
    }
}
