import ArgumentParser
import Glibc

/// What every engine is given: where to accept clients, where to relay them to, on how many threads.
struct RelayConfiguration: Sendable {
    let listen: HostAndPort
    let listenAddress: ResolvedAddress
    let upstream: HostAndPort
    let upstreamAddress: ResolvedAddress
    let threads: Int
    let epollStopsAtShortRead: Bool
}

enum Engine: String, ExpressibleByArgument, CaseIterable, Sendable {
    case nio, epoll, uring
}

@main
struct RelaySpike: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-spike",
        abstract: "A plain bidirectional TCP byte relay on SwiftNIO, epoll or io_uring (the spike of issue 15).",
        discussion: """
            Accepts clients, connects each to the upstream server and copies bytes both ways until \
            either side closes; no protocol is parsed. `--engine uring` falls back to epoll when the \
            kernel refuses io_uring (io_uring_setup denied by seccomp, io_uring_disabled, an old kernel).
            """
    )

    @Option(help: "Kernel interface.")
    var engine: Engine

    @Option(help: "PORT or HOST:PORT to accept clients on (host: 127.0.0.1 when not given).")
    var listen: String

    @Option(help: "HOST:PORT of the server to relay to.")
    var upstream: String

    @Option(help: "Reactor threads (NIO: event loops). With epoll and io_uring each has its own listener on the port (SO_REUSEPORT).")
    var threads: Int = 1

    @Flag(help: """
        epoll: take a recv that returns fewer bytes than it asked for as the end of the socket's \
        input until the next edge, instead of calling recv again until EAGAIN (one system call \
        less per message). Also for the epoll that --engine uring falls back to.
        """)
    var stopAtShortRead = false

    func run() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        let listenEndpoint = try HostAndPort(parsing: listen, defaultHost: "127.0.0.1")
        let upstreamEndpoint = try HostAndPort(parsing: upstream)
        let configuration = RelayConfiguration(
            listen: listenEndpoint, listenAddress: try ResolvedAddress(listenEndpoint),
            upstream: upstreamEndpoint, upstreamAddress: try ResolvedAddress(upstreamEndpoint),
            threads: threads, epollStopsAtShortRead: stopAtShortRead)
        // A peer that closed while a send was under way must be an error return, not a signal.
        // The engines send with MSG_NOSIGNAL; NIO ignores SIGPIPE itself; this covers any other write.
        signal(SIGPIPE, SIG_IGN)

        switch engine {
        case .nio:
            try runNIORelay(configuration)
        case .epoll:
            runEpollRelay(configuration)
        case .uring:
            if let reason = URingSupport.unavailabilityReason() {
                logLine("io_uring is not available (\(reason)); falling back to epoll")
                runEpollRelay(configuration)
            } else {
                runURingRelay(configuration)
            }
        }
    }
}

/// Runs `body(index)` on `count` threads, index 0 on the calling thread, and never returns: a
/// reactor loops until the process ends (SIGTERM, or `fatal` on a failure it cannot go on from).
func runOnReactorThreads(count: Int, _ body: @escaping @Sendable (Int) -> Never) -> Never {
    final class ThreadStart {
        let run: () -> Never
        init(_ run: @escaping () -> Never) { self.run = run }
    }
    for index in 1..<max(count, 1) {
        let start = Unmanaged.passRetained(ThreadStart { body(index) }).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue().run()
        }, start)
        guard rc == 0 else { fatal("pthread_create: \(String(cString: strerror(rc)))") }
        pthread_detach(thread)
    }
    body(0)
}
