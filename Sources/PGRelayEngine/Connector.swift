#if os(Linux)
import Glibc
import NIOCore

/// A connect that did not finish within its timeout.
public struct ConnectTimeoutError: Error, Equatable, CustomStringConvertible, Sendable {
    public let address: SocketAddress
    public let timeout: TimeAmount

    public var description: String { "connect to \(address): timed out after \(timeout)" }
}

/// Non-blocking connects to a TCP address or a Unix socket path.
///
/// Names are not resolved here: the address is numeric (`SocketAddress(ipAddress:port:)`, or
/// `SocketAddress(unixDomainSocketPath:)`). Resolving a host name (getaddrinfo blocks) is the
/// caller's, off the reactors: once at configuration time, or on a thread of its own.
public enum Connector {
    /// Connects to `address` from `reactor` and succeeds (on that reactor) with an unstarted
    /// connection, or fails with the connect's `SystemCallError` (ECONNREFUSED, ENETUNREACH, ...),
    /// `ConnectTimeoutError`, or `EventLoopError.shutdown`.
    public static func connect(
        to address: SocketAddress,
        on reactor: Reactor,
        timeout: TimeAmount,
        options: SocketConnectionOptions = .init()
    ) -> EventLoopFuture<SocketConnection> {
        let promise = reactor.makePromise(of: SocketConnection.self)
        if !reactor.runOnReactor({ PendingConnect.start(address: address, reactor: reactor, timeout: timeout, options: options, promise: promise) }) {
            promise.fail(EventLoopError.shutdown)
        }
        return promise.futureResult
    }
}

/// A socket whose connect is in progress: registered with the reactor until it reports
/// writable (connected, or failed: SO_ERROR tells) or the timeout fires. On success its
/// registration passes to the new `SocketConnection`.
final class PendingConnect: ReactorEventHandler, @unchecked Sendable {
    private let descriptor: Int32
    private let address: SocketAddress
    private let reactor: Reactor
    private let options: SocketConnectionOptions
    private let promise: EventLoopPromise<SocketConnection>
    private var registration: RegistrationToken?
    private var timeoutTask: Scheduled<Void>?
    private var isFinished = false

    private init(descriptor: Int32, address: SocketAddress, reactor: Reactor, options: SocketConnectionOptions,
                 promise: EventLoopPromise<SocketConnection>) {
        self.descriptor = descriptor
        self.address = address
        self.reactor = reactor
        self.options = options
        self.promise = promise
    }

    /// On the reactor's thread.
    static func start(address: SocketAddress, reactor: Reactor, timeout: TimeAmount, options: SocketConnectionOptions,
                      promise: EventLoopPromise<SocketConnection>) {
        let family = address.protocol.rawValue
        let descriptor: Int32
        do {
            descriptor = try SocketCalls.makeStreamSocket(family: family)
            if SocketCalls.isInternet(family: family) {
                try SocketCalls.disableNagle(descriptor)
            }
        } catch {
            promise.fail(error)
            return
        }
        var result: Int32 = 0
        address.withSockAddr { pointer, length in
            result = Glibc.connect(descriptor, pointer, socklen_t(length))
        }
        let code = result == 0 ? 0 : errno
        switch code {
        case 0:
            // Unix sockets (and sometimes loopback TCP) connect at once.
            promise.succeed(SocketConnection(descriptor: descriptor, reactor: reactor, options: options, registration: nil))
        case EINPROGRESS, EINTR:
            // EINTR: the connect goes on in the background, as EINPROGRESS.
            let pending = PendingConnect(descriptor: descriptor, address: address, reactor: reactor, options: options, promise: promise)
            pending.waitForCompletion(timeout: timeout)
        default:
            // Including EAGAIN from a Unix socket whose listener's backlog is full: Linux has no
            // asynchronous connect for those.
            SocketCalls.close(descriptor)
            promise.fail(SystemCallError("connect to \(address)", code: code))
        }
    }

    private func waitForCompletion(timeout: TimeAmount) {
        do {
            // Registered as a connection would be, so that the registration can be handed over.
            registration = try reactor.register(descriptor, events: Epoll.connectionEvents, handler: self)
        } catch {
            finish(failing: error)
            return
        }
        timeoutTask = reactor.scheduleTask(in: timeout) {
            self.finish(failing: ConnectTimeoutError(address: self.address, timeout: timeout))
        }
    }

    func handleEvents(_ events: UInt32) {
        guard !isFinished, events & Epoll.outputEvents != 0 else { return }
        let code = SocketCalls.pendingError(descriptor)
        guard code == 0 else {
            finish(failing: SystemCallError("connect to \(address)", code: code))
            return
        }
        isFinished = true
        timeoutTask?.cancel()
        timeoutTask = nil  // its closure holds this object
        let connection = SocketConnection(descriptor: descriptor, reactor: reactor, options: options, registration: registration)
        if let registration {
            reactor.replaceHandler(of: registration, with: connection)
        }
        promise.succeed(connection)
    }

    func closeForShutdown() {
        finish(failing: EventLoopError.shutdown)
    }

    private func finish(failing error: Error) {
        guard !isFinished else { return }
        isFinished = true
        timeoutTask?.cancel()
        timeoutTask = nil
        if let registration {
            reactor.deregister(registration)
        }
        SocketCalls.close(descriptor)
        promise.fail(error)
    }
}
#endif
