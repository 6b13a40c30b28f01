#if os(Linux)
import CEngineLinux
import Glibc
import NIOCore

/// A listening TCP (IPv4 or IPv6) or Unix socket. One reactor of the group accepts; each
/// accepted connection goes to the group's next reactor in turn, where `onAccept` receives it
/// (unstarted: the callback sets its delegate with `start(delegate:)`, or closes it).
public final class Listener: ReactorEventHandler, @unchecked Sendable {
    public typealias AcceptHandler = @Sendable (SocketConnection) -> Void
    public typealias ErrorHandler = @Sendable (SystemCallError) -> Void

    /// Pool start-ups and pgbench connect in bursts; the kernel caps it at net.core.somaxconn.
    public static let defaultBacklog: Int32 = 1024
    /// After EMFILE and the like the pending connections stay queued, and with edge triggering
    /// nothing reports them again until a new one arrives: the listener tries again after this.
    static let acceptRetryDelay = TimeAmount.milliseconds(100)

    /// The bound address (with the port the kernel chose when asked for port 0).
    public let localAddress: SocketAddress
    /// The reactor that accepts.
    public let reactor: Reactor

    private let group: ReactorGroup
    /// Internal, not private, for tests that check socket options.
    let descriptor: Int32
    private let acceptsTCP: Bool
    private let unixSocketPath: String?
    private let options: SocketConnectionOptions
    private let onAccept: AcceptHandler
    private let onError: ErrorHandler

    // On the accepting reactor's thread:
    private var registration: RegistrationToken?
    private var isClosed = false
    private var retryScheduled = false

    /// Binds and listens at once (errors are thrown here: address in use, permission denied);
    /// accepting starts on the chosen reactor a moment later. `onError` hears of accept failures
    /// that are not the client's (EMFILE, ENFILE, ENOBUFS, ENOMEM: retried after a pause).
    ///
    /// IPv6 listeners are IPv6 only (IPV6_V6ONLY), so that "::" and "0.0.0.0" on the same port
    /// can both be listened on. A Unix socket's file is removed when the listener closes (an
    /// existing file at the path makes the bind fail with EADDRINUSE: removing a stale one is
    /// the caller's decision).
    public init(
        address: SocketAddress,
        group: ReactorGroup,
        backlog: Int32 = Listener.defaultBacklog,
        options: SocketConnectionOptions = .init(),
        socketOptions: [SocketOption] = [],
        onError: @escaping ErrorHandler = { _ in },
        onAccept: @escaping AcceptHandler
    ) throws {
        let family = address.protocol.rawValue
        let descriptor = try SocketCalls.makeStreamSocket(family: family)
        var boundUnixSocketPath: String?
        do {
            if SocketCalls.isInternet(family: family) {
                // A restarted pgrelay must not wait for the old connections' TIME_WAIT.
                try SocketCalls.setOption(descriptor, level: SOL_SOCKET, option: SO_REUSEADDR, value: 1, name: "SO_REUSEADDR")
            }
            if family == AF_INET6 {
                try SocketCalls.setOption(descriptor, level: Int32(IPPROTO_IPV6), option: IPV6_V6ONLY, value: 1, name: "IPV6_V6ONLY")
            }
            for option in socketOptions {
                try SocketCalls.setOption(descriptor, level: option.level, option: option.name, value: option.value, name: option.label)
            }
            try address.withSockAddr { pointer, length in
                guard bind(descriptor, pointer, socklen_t(length)) == 0 else { throw SystemCallError("bind to \(address)") }
            }
            boundUnixSocketPath = address.pathname
            guard listen(descriptor, backlog) == 0 else { throw SystemCallError("listen on \(address)") }
            localAddress = try SocketCalls.localAddress(of: descriptor)
        } catch {
            SocketCalls.close(descriptor)
            if let boundUnixSocketPath {
                _ = unlink(boundUnixSocketPath)  // the bind made the file; nobody will listen on it
            }
            throw error
        }
        self.descriptor = descriptor
        self.group = group
        self.reactor = group.nextReactor()
        self.acceptsTCP = SocketCalls.isInternet(family: family)
        self.unixSocketPath = family == AF_UNIX ? address.pathname : nil
        self.options = options
        self.onAccept = onAccept
        self.onError = onError
        let registered = reactor.runOnReactor {
            do throws(SystemCallError) {
                self.registration = try self.reactor.register(descriptor, events: Epoll.listenerEvents, handler: self)
            } catch {
                self.onError(error)
                self.closeOnReactor()
            }
        }
        if !registered {
            closeDescriptor()
        }
    }

    /// Stops accepting and closes the socket (connections already accepted are not touched).
    /// From any thread; the future completes on the accepting reactor once it is closed.
    @discardableResult
    public func close() -> EventLoopFuture<Void> {
        reactor.submit { self.closeOnReactor() }
    }

    /// Sets a socket option on the listening socket (a reload's TCP_DEFER_ACCEPT), on its reactor.
    public func setOption(_ option: SocketOption) -> EventLoopFuture<Void> {
        reactor.submit {
            guard !self.isClosed else { return }
            try SocketCalls.setOption(self.descriptor, level: option.level, option: option.name, value: option.value, name: option.label)
        }
    }

    func handleEvents(_ events: UInt32) {
        acceptPendingConnections()
    }

    func closeForShutdown() {
        closeOnReactor()
    }

    /// Edge-triggered: accepts until EAGAIN, or clients of the same burst would wait for an edge
    /// that has already passed.
    private func acceptPendingConnections() {
        while !isClosed {
            let accepted = accept4(descriptor, nil, nil, SocketCalls.nonBlockingCloseOnExec)
            if accepted >= 0 {
                handOver(accepted)
                continue
            }
            let code = errno
            switch code {
            case EAGAIN, EWOULDBLOCK:
                return
            case EINTR, ECONNABORTED, EPROTO, EPERM:
                // Interrupted, or one client's trouble (reset while queued, refused by a
                // firewall rule): go on with the next.
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                onError(SystemCallError("accept4", code: code))
                scheduleRetry()
                return
            default:
                onError(SystemCallError("accept4", code: code))
                return
            }
        }
    }

    private func scheduleRetry() {
        guard !retryScheduled else { return }
        retryScheduled = true
        _ = reactor.scheduleTask(in: Self.acceptRetryDelay) {
            self.retryScheduled = false
            self.acceptPendingConnections()
        }
    }

    /// Makes the connection on the next reactor of the group and gives it to `onAccept` there.
    private func handOver(_ accepted: Int32) {
        if acceptsTCP {
            do {
                try SocketCalls.disableNagle(accepted)
            } catch {
                // Only fails for a socket that is already broken: drop it.
                SocketCalls.close(accepted)
                return
            }
        }
        let target = group.nextReactor()
        let options = self.options
        let onAccept = self.onAccept
        let deliver = {
            onAccept(SocketConnection(descriptor: accepted, reactor: target, options: options, registration: nil))
        }
        if target === reactor {
            deliver()
        } else if !target.enqueue(deliver) {
            SocketCalls.close(accepted)  // the target reactor has stopped
        }
    }

    private func closeOnReactor() {
        guard !isClosed else { return }
        isClosed = true
        if let registration {
            reactor.deregister(registration)
            self.registration = nil
        }
        closeDescriptor()
    }

    private func closeDescriptor() {
        SocketCalls.close(descriptor)
        if let unixSocketPath {
            _ = unlink(unixSocketPath)
        }
    }
}
#endif
