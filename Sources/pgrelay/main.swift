import ArgumentParser
import Foundation
import Logging
import PGRelayCore
import PGRelayServer

/// `pgrelay CONFIG`, with PgBouncer's flags, plus `--check`.
struct PGRelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgrelay",
        abstract: "PostgreSQL connection pooler and proxy with read/write splitting and query latency percentiles.",
        discussion: """
        Signals (as PgBouncer 1.23+): SIGHUP reloads the configuration; SIGTERM stops accepting and exits once \
        every client has left; SIGINT stops accepting and exits once no server is in use; either waits at most \
        shutdown_timeout, and a second one stops at once; SIGQUIT stops at once; SIGUSR1 pauses and SIGUSR2 \
        resumes every database.
        """,
        helpNames: [.short, .long]
    )

    @Flag(name: [.customShort("V"), .customLong("version")], help: "Print the version and exit.")
    var version = false

    @Flag(name: .customLong("check"), help: "Validate the configuration file, print problems, exit 0 (valid) or 1.")
    var check = false

    @Flag(name: .customLong("strict"), help: "With --check: a warning (a missing auth_file, an unknown key...) fails the check too.")
    var strict = false

    @Flag(name: [.short, .long], help: "Run in the background (writes pidfile).")
    var daemon = false

    @Flag(name: [.short, .long], help: "Log nothing to stderr.")
    var quiet = false

    @Flag(name: [.short, .long], help: "More verbose logging (debug).")
    var verbose: Int

    @Option(name: [.short, .long], help: "Switch to this OS user before opening sockets and the logfile.")
    var user: String?

    @Flag(name: [.customShort("R"), .customLong("reboot")], help: "Accepted for PgBouncer compatibility; starts normally.")
    var reboot = false

    @Argument(help: "Path to the configuration file (pgbouncer.ini format).")
    var configPath: String?

    mutating func run() throws {
        if version {
            print(PGRelayVersion.line)
            return
        }
        guard let configPath else {
            throw ValidationError("missing configuration file path")
        }
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data("pgrelay: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if check {
            var warnings = loaded.warnings.map(\.description)
            do {
                let secrets = try ProxyServer.loadSecrets(config: loaded.config, relativeTo: configPath)
                if let missing = ProxyServer.authFileWarning(config: loaded.config, relativeTo: configPath) {
                    warnings.append("\(missing): every login that needs a password fails until it exists")
                }
                warnings += HealthCheckLogin.startupWarnings(config: loaded.config, secrets: secrets)
                for warning in warnings { print("warning: \(warning)") }
                try ProxyServer.checkTLS(config: loaded.config)
            } catch {
                print("error: \(error)")
                throw ExitCode(1)
            }
            if strict, !warnings.isEmpty {
                print("\(configPath): \(warnings.count) warning(s), an error with --strict")
                throw ExitCode(1)
            }
            print("\(configPath): configuration is valid")
            return
        }
        let config = loaded.config
        let pidfile = config.pidfile.isEmpty ? nil : PidFile(path: config.pidfile)
        if daemon, !Daemon.isChild {
            guard let pidfile else {
                FileHandle.standardError.write(Data("pgrelay: -d/--daemon needs pidfile set in \(configPath)\n".utf8))
                throw ExitCode(1)
            }
            do {
                try pidfile.ensureNotRunning()
                _ = try ProxyServer.loadSecrets(config: config, relativeTo: configPath)
                _ = try Daemon.spawn(pidfile: pidfile)
            } catch {
                FileHandle.standardError.write(Data("pgrelay: \(error)\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        if Daemon.isChild { Daemon.detach() }
        do {
            try pidfile?.ensureNotRunning()
        } catch {
            FileHandle.standardError.write(Data("pgrelay: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let secrets: [String: StoredSecret]
        do {
            secrets = try ProxyServer.loadSecrets(config: config, relativeTo: configPath)
            // -u wins over the config's `user`. The switch comes before any socket or the logfile is
            // opened, as in PgBouncer: no client is ever served as root, and the logfile belongs to
            // the user who reopens it on reload.
            if let osUser = user ?? (config.user.isEmpty ? nil : config.user) { try UserSwitch.become(osUser) }
        } catch {
            FileHandle.standardError.write(Data("pgrelay: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let sink = LogSink()
        var level = ProxyServer.logLevel(config.logLevel)
        // `verbose = N` in the config is the same as N times -v, as in PgBouncer.
        if verbose > 0 || config.verbose > 0 { level = .debug }
        sink.configure(format: config.logFormat == .json ? .json : .text, level: level, logfile: config.logfile, quiet: quiet)
        if reboot {
            sink.write("{\"level\":\"notice\",\"msg\":\"-R/--reboot (online restart) is not supported; starting normally\"}")
        }
        let server = ProxyServer(config: config, secrets: secrets, configPath: configPath, sink: sink)
        server.quiet = quiet
        server.verbose = verbose > 0
        for warning in loaded.warnings { server.logger.warning("\(warning.description)") }
        if let missing = ProxyServer.authFileWarning(config: config, relativeTo: configPath) { server.logger.error("\(missing)") }
        do {
            try server.start()
        } catch {
            server.logger.error("could not start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        do {
            try pidfile?.write()
        } catch {
            server.logger.error("could not start", metadata: ["error": "\(error)"])
            server.shutdown(.immediate)
            try? server.waitUntilStopped()
            throw ExitCode(1)
        }
        let signals = SignalHandlers(server: server)
        signals.install()
        try server.waitUntilStopped()
        pidfile?.remove()
        server.logger.info("stopped")
        _ = signals
    }
}

/// SIGHUP reloads; SIGTERM waits for clients, SIGINT for servers, SIGQUIT stops at once; SIGUSR1
/// pauses, SIGUSR2 resumes (as PgBouncer 1.23+; see `ShutdownMode`).
final class SignalHandlers {
    private let server: ProxyServer
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "pgrelay.signals")

    init(server: ProxyServer) {
        self.server = server
    }

    func install() {
        for (signo, action) in [(SIGHUP, { [server] in _ = server.reload() }),
                                (SIGTERM, { [server] in server.shutdown(.waitForClients, signal: "SIGTERM") }),
                                (SIGINT, { [server] in server.shutdown(.waitForServers, signal: "SIGINT") }),
                                (SIGQUIT, { [server] in server.shutdown(.immediate, signal: "SIGQUIT") }),
                                (SIGUSR1, { [server] in server.pauseAll() }),
                                (SIGUSR2, { [server] in server.resumeAll() })] as [(Int32, () -> Void)] {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler(handler: action)
            source.resume()
            sources.append(source)
        }
        signal(SIGPIPE, SIG_IGN)
    }
}

PGRelayCommand.main()
