import CLinux
import Glibc

/// The epoll engine: one reactor per thread, each with its own epoll instance and its own
/// listener on the shared port; a connection lives on the reactor that accepted it.
func runEpollRelay(_ configuration: RelayConfiguration) -> Never {
    logLine("epoll relay on \(configuration.listen) -> \(configuration.upstream), \(configuration.threads) thread(s)")
    runOnReactorThreads(count: configuration.threads) { _ in
        do {
            try EpollReactor(configuration).run()
        } catch {
            fatal("epoll reactor: \(error)")
        }
    }
}

/// One socket of a relayed pair, and what edge-triggered epoll has told about it.
///
/// Edge-triggered epoll reports a socket when it *becomes* readable or writable, not while it
/// stays so; these flags remember the last edge until a call returns EAGAIN. A side that is
/// readable but not read (its buffer is full) stays readable, and is read as soon as the other
/// side has drained the buffer, without another event.
private struct EpollSocket {
    let fd: Int32
    /// An input edge (data, EOF or error) came and recv has not returned EAGAIN since (nor, with
    /// `stopsAtShortRead`, fewer bytes than it asked for).
    var readable = false
    /// The last input edge reported the peer's FIN or an error (EPOLLRDHUP, EPOLLHUP, EPOLLERR):
    /// recv must go on to its 0 or its error, as no further edge will announce them.
    var peerClosing = false
    /// An output edge came and send has not returned EAGAIN since. The upstream socket's first
    /// output edge also means its non-blocking connect finished.
    var writable = false
    var receivedEOF = false
}

private final class EpollConnection {
    var client: EpollSocket
    var server: EpollSocket
    var serverConnected = false
    var clientToServer = TransferBuffer()
    var serverToClient = TransferBuffer()

    init(clientFD: Int32, serverFD: Int32) {
        client = EpollSocket(fd: clientFD)
        server = EpollSocket(fd: serverFD)
    }
}

/// What a recv or send on a non-blocking socket came to.
private enum SocketCallOutcome {
    /// Bytes moved; for recv, 0 is the peer's EOF.
    case transferred(Int)
    /// EAGAIN: wait for the next edge.
    case wouldBlock
    /// EINTR: try again.
    case interrupted
    case failed

    init(_ result: Int) {
        if result >= 0 {
            self = .transferred(result)
        } else if errno == EAGAIN || errno == EWOULDBLOCK {
            self = .wouldBlock
        } else if errno == EINTR {
            self = .interrupted
        } else {
            self = .failed
        }
    }
}

/// Which socket of its connection an event is for: the tag of the epoll token.
private enum EpollSide: UInt8 {
    case client = 0
    case server = 1
}

private final class EpollReactor {
    /// The listener's token; connection tokens never reach it (their slot has 24 bits).
    private static let listenerToken = UInt64.max
    private static let eventsPerWait = 256
    private static let closingEvents = EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
    private static let inputEvents = EPOLLIN.rawValue | closingEvents
    /// Both directions registered once for the socket's life: with edge triggering a writable
    /// socket does not wake the reactor again until a send has filled it, so there is no need to
    /// add and remove EPOLLOUT as output backs up and drains (which would cost an epoll_ctl each).
    private static let connectionEvents = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue

    private let epollFD: Int32
    private let listenerFD: Int32
    private let upstream: ResolvedAddress
    private let upstreamName: HostAndPort
    private let stopsAtShortRead: Bool
    private var connections = SlotTable<EpollConnection>()
    private let events: UnsafeMutablePointer<epoll_event>

    init(_ configuration: RelayConfiguration) throws {
        upstream = configuration.upstreamAddress
        upstreamName = configuration.upstream
        stopsAtShortRead = configuration.epollStopsAtShortRead
        listenerFD = try Sockets.listener(on: configuration.listenAddress, sharedPort: true, nonBlocking: true)
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SystemCallError("epoll_create1") }
        events = .allocate(capacity: Self.eventsPerWait)
        try register(listenerFD, events: EPOLLIN.rawValue | EPOLLET.rawValue, token: Self.listenerToken)
    }

    func run() -> Never {
        while true {
            let count = epoll_wait(epollFD, events, Int32(Self.eventsPerWait), -1)
            guard count >= 0 else {
                if errno == EINTR { continue }
                fatal("\(SystemCallError("epoll_wait"))")
            }
            for index in 0..<Int(count) {
                let token = events[index].data.u64
                if token == Self.listenerToken {
                    acceptClients()
                } else {
                    handle(events: events[index].events, token: token)
                }
            }
        }
    }

    private func register(_ fd: Int32, events: UInt32, token: UInt64) throws {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else { throw SystemCallError("epoll_ctl") }
    }

    /// The listener is edge-triggered too: accept until EAGAIN, or later clients of the same
    /// burst would wait for an edge that has already passed.
    private func acceptClients() {
        while true {
            let clientFD = accept4(listenerFD, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            guard clientFD >= 0 else {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED: continue
                default:
                    // EMFILE and the like: the clients left in the queue wait for the next
                    // listener edge, i.e. the next new client. The engine is to retry on a timer
                    // (or when a connection closes); the spike leaves that out.
                    logLine("\(SystemCallError("accept4"))")
                    return
                }
            }
            do {
                try startRelay(clientFD: clientFD)
            } catch {
                logLine("cannot relay a client: \(error)")
                close(clientFD)
            }
        }
    }

    private func startRelay(clientFD: Int32) throws {
        try Sockets.disableNagle(clientFD)
        let serverFD = try Sockets.upstreamSocket(family: upstream.family, nonBlocking: true)
        do {
            let connectResult = upstream.withSocketAddress { connect(serverFD, $0, $1) }
            guard connectResult == 0 || errno == EINPROGRESS else { throw SystemCallError("connect to \(upstreamName)") }
            // Until the connect completes the client may already send (PostgreSQL's startup
            // message): it is read into the buffer and sent on the first output edge upstream.
            let connection = EpollConnection(clientFD: clientFD, serverFD: serverFD)
            guard let handle = connections.insert(connection) else { throw ConfigurationError("connection table full") }
            do {
                try register(clientFD, events: Self.connectionEvents, token: handle.token(tag: EpollSide.client.rawValue))
                try register(serverFD, events: Self.connectionEvents, token: handle.token(tag: EpollSide.server.rawValue))
            } catch {
                connections.remove(handle)
                throw error
            }
        } catch {
            close(serverFD)
            throw error
        }
    }

    private func handle(events: UInt32, token: UInt64) {
        let handle = SlotTable<EpollConnection>.Handle(token: token)
        guard let connection = connections[handle] else { return }  // closed earlier in this batch
        let side = EpollSide(rawValue: SlotTable<EpollConnection>.tag(of: token)) ?? .client
        if side == .server && !connection.serverConnected {
            // The first output or error edge of the upstream socket ends its connect.
            if events & (EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                let code = Sockets.pendingError(connection.server.fd)
                if code != 0 {
                    logLine("\(SystemCallError("connect to \(upstreamName)", code: code))")
                    closeConnection(connection, handle)
                    return
                }
                connection.serverConnected = true
            }
        }
        switch side {
        case .client: Self.noteEdges(events, on: &connection.client)
        case .server: Self.noteEdges(events, on: &connection.server)
        }
        // An edge on one socket can move bytes in both directions: input on the client feeds
        // the server, and output space on the client lets the server's buffered reply go out.
        let keepOpen = relay(from: &connection.client, to: &connection.server, through: &connection.clientToServer)
            && relay(from: &connection.server, to: &connection.client, through: &connection.serverToClient)
        if !keepOpen {
            closeConnection(connection, handle)
        }
    }

    private static func noteEdges(_ events: UInt32, on socket: inout EpollSocket) {
        if events & inputEvents != 0 {
            socket.readable = true
            socket.peerClosing = events & closingEvents != 0
        }
        if events & EPOLLOUT.rawValue != 0 { socket.writable = true }
    }

    /// Moves bytes from `source` to `destination` until neither a receive nor a send can make
    /// progress: receive while the buffer has space and the source has not returned EAGAIN, send
    /// while there are bytes and the destination has not returned EAGAIN. A full buffer stops
    /// receiving from the source (back-pressure) until the destination takes bytes.
    ///
    /// With `stopsAtShortRead`, a recv that returns fewer bytes than it asked for ends reading
    /// until the next edge, without the recv that would return EAGAIN: the socket's queue was
    /// empty when that recv returned, and with edge triggering whatever arrives later (during the
    /// recv too: the kernel processes it when the recv releases the socket) raises a new edge.
    /// A FIN that arrived before the edge was reported raises none: `peerClosing` reads on to it.
    ///
    /// Returns false when the connection is to be closed: the source reached EOF and everything
    /// it sent before has been passed on, or a socket failed.
    private func relay(from source: inout EpollSocket, to destination: inout EpollSocket,
                              through buffer: inout TransferBuffer) -> Bool {
        while true {
            var progressed = false
            if source.readable && buffer.hasFreeSpace {
                let space = buffer.freeSpace
                switch SocketCallOutcome(recv(source.fd, space.pointer, space.count, 0)) {
                case .transferred(0):
                    source.readable = false
                    source.receivedEOF = true
                case .transferred(let count):
                    buffer.didReceive(count)
                    progressed = true
                    if stopsAtShortRead && count < space.count && !source.peerClosing {
                        source.readable = false
                    }
                case .wouldBlock: source.readable = false
                case .interrupted: progressed = true
                case .failed: return false
                }
            }
            if destination.writable && !buffer.isEmpty {
                let pending = buffer.pendingBytes
                switch SocketCallOutcome(send(destination.fd, pending.pointer, pending.count, Int32(MSG_NOSIGNAL))) {
                case .transferred(let count):
                    buffer.didSend(count)
                    progressed = true
                case .wouldBlock: destination.writable = false
                case .interrupted: progressed = true
                case .failed: return false
                }
            }
            if source.receivedEOF && buffer.isEmpty { return false }
            if !progressed { return true }
        }
    }

    /// Closes both sockets; close() also takes them out of the epoll set.
    private func closeConnection(_ connection: EpollConnection, _ handle: SlotTable<EpollConnection>.Handle) {
        close(connection.client.fd)
        close(connection.server.fd)
        connections.remove(handle)
    }
}
