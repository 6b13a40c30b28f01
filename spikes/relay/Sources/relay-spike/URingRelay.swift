import CLibURing
import Glibc

/// Whether this process may use io_uring, asked once before any reactor starts.
enum URingSupport {
    /// The operations the engine submits; a kernel without one of them cannot run it.
    private static let requiredOperations: [(io_uring_op, String)] = [
        (IORING_OP_ACCEPT, "ACCEPT"), (IORING_OP_CONNECT, "CONNECT"), (IORING_OP_RECV, "RECV"), (IORING_OP_SEND, "SEND"),
    ]

    /// Nil when io_uring can run the relay; otherwise why not. Containers commonly refuse
    /// io_uring_setup through seccomp (EPERM; ENOSYS with some profiles), kernels can turn it off
    /// (`kernel.io_uring_disabled`, EPERM), and kernels before 5.6 lack the socket operations.
    static func unavailabilityReason() -> String? {
        var ring = io_uring()
        let rc = io_uring_queue_init(8, &ring, 0)
        guard rc == 0 else { return "\(SystemCallError("io_uring_setup", code: -rc))" }
        defer { io_uring_queue_exit(&ring) }
        guard let probe = io_uring_get_probe_ring(&ring) else { return "the kernel cannot list its io_uring operations" }
        defer { io_uring_free_probe(probe) }
        for (operation, name) in requiredOperations where io_uring_opcode_supported(probe, Int32(operation.rawValue)) == 0 {
            return "the kernel lacks IORING_OP_\(name)"
        }
        return nil
    }
}

/// The io_uring engine: one ring per thread, each with its own listener on the shared port.
func runURingRelay(_ configuration: RelayConfiguration) -> Never {
    logLine("io_uring relay on \(configuration.listen) -> \(configuration.upstream), \(configuration.threads) thread(s)")
    runOnReactorThreads(count: configuration.threads) { _ in
        do {
            try URingReactor(configuration).run()
        } catch {
            fatal("io_uring reactor: \(error)")
        }
    }
}

/// What a submission was for: the tag of its token (`user_data`).
private enum URingOperation: UInt8 {
    case connect = 0
    case receiveFromClient = 1
    case sendToServer = 2
    case receiveFromServer = 3
    case sendToClient = 4
}

/// One direction of a relayed pair. Completion-based, a lane is a strict cycle — receive from
/// the source into the buffer, send all of it to the destination, receive again — so at most one
/// operation per lane is in flight and the kernel never fills the buffer while it is being sent.
/// That cycle is the back-pressure: a side is not read while what it sent last is still going out.
private struct URingLane: ~Copyable {
    let sourceFD: Int32
    let destinationFD: Int32
    let receiveOperation: URingOperation
    let sendOperation: URingOperation
    var buffer = TransferBuffer()
}

private final class URingConnection {
    var clientToServer: URingLane
    var serverToClient: URingLane
    /// Submitted operations whose completion has not been seen. The sockets and buffers belong to
    /// the kernel until it is back to zero, so only then is the connection closed and freed.
    var operationsInFlight = 0
    var closing = false

    var clientFD: Int32 { clientToServer.sourceFD }
    var serverFD: Int32 { serverToClient.sourceFD }

    init(clientFD: Int32, serverFD: Int32) {
        clientToServer = URingLane(sourceFD: clientFD, destinationFD: serverFD,
                                   receiveOperation: .receiveFromClient, sendOperation: .sendToServer)
        serverToClient = URingLane(sourceFD: serverFD, destinationFD: clientFD,
                                   receiveOperation: .receiveFromServer, sendOperation: .sendToClient)
    }
}

private final class URingReactor {
    private static let acceptToken = UInt64.max
    /// Submission queue entries (the completion queue gets twice as many). A connection has at
    /// most two operations in flight; more than the queue holds at once are submitted early
    /// (`nextSubmission`), and a completion queue that overflows is kept by the kernel
    /// (IORING_FEAT_NODROP) until it is reaped.
    private static let queueDepth: UInt32 = 1024
    private static let completionsPerBatch: UInt32 = 256

    private let ring: UnsafeMutablePointer<io_uring>
    private let listenerFD: Int32
    /// The kernel reads the address when it starts a connect, after the submitting call returned:
    /// it lives here, at a fixed place, for the reactor's life.
    private let upstreamAddress: UnsafeMutablePointer<sockaddr_storage>
    private let upstreamAddressLength: socklen_t
    private let upstreamFamily: Int32
    private let upstreamName: HostAndPort
    private var connections = SlotTable<URingConnection>()
    private let completions: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>

    init(_ configuration: RelayConfiguration) throws {
        ring = .allocate(capacity: 1)
        try Self.setUpRing(ring)
        listenerFD = try Sockets.listener(on: configuration.listenAddress, sharedPort: true, nonBlocking: false)
        upstreamAddress = .allocate(capacity: 1)
        upstreamAddress.initialize(to: configuration.upstreamAddress.storage)
        upstreamAddressLength = configuration.upstreamAddress.length
        upstreamFamily = configuration.upstreamAddress.family
        upstreamName = configuration.upstream
        completions = .allocate(capacity: Int(Self.completionsPerBatch))
    }

    /// The ring flags that suit one thread that submits and reaps everything itself, newest
    /// first: SINGLE_ISSUER | DEFER_TASKRUN (Linux 6.1) lets the kernel finish completions only
    /// when this thread waits for them, instead of interrupting it; COOP_TASKRUN (5.19) at least
    /// avoids the interrupt. Older kernels reject unknown flags with EINVAL: try the next.
    private static func setUpRing(_ ring: UnsafeMutablePointer<io_uring>) throws {
        let flagChoices: [UInt32] = [IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0]
        for flags in flagChoices {
            let rc = io_uring_queue_init(queueDepth, ring, flags)
            if rc == 0 { return }
            if rc != -EINVAL { throw SystemCallError("io_uring_setup", code: -rc) }
        }
        throw SystemCallError("io_uring_setup", code: EINVAL)
    }

    func run() -> Never {
        submitAccept()
        while true {
            // One system call hands the kernel everything queued since the last one and waits
            // for at least one completion.
            let rc = io_uring_submit_and_wait(ring, 1)
            if rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN {
                fatal("\(SystemCallError("io_uring_enter", code: -rc))")
            }
            let count = io_uring_peek_batch_cqe(ring, completions, Self.completionsPerBatch)
            for index in 0..<Int(count) {
                let completion = completions[index]!.pointee
                complete(token: completion.user_data, result: completion.res)
            }
            io_uring_cq_advance(ring, count)
        }
    }

    /// A free submission entry. When the queue is full, what is queued goes to the kernel now.
    private func nextSubmission() -> UnsafeMutablePointer<io_uring_sqe> {
        if let entry = io_uring_get_sqe(ring) { return entry }
        _ = io_uring_submit(ring)
        guard let entry = io_uring_get_sqe(ring) else { fatal("io_uring submission queue stays full") }
        return entry
    }

    private func submitAccept() {
        let entry = nextSubmission()
        io_uring_prep_accept(entry, listenerFD, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(entry, Self.acceptToken)
    }

    private func complete(token: UInt64, result: Int32) {
        if token == Self.acceptToken {
            acceptCompleted(result)
            return
        }
        let handle = SlotTable<URingConnection>.Handle(token: token)
        guard let connection = connections[handle],
              let operation = URingOperation(rawValue: SlotTable<URingConnection>.tag(of: token)) else {
            fatal("completion for an unknown connection (token \(token))")
        }
        connection.operationsInFlight -= 1
        if connection.closing {
            finishClosing(connection, handle)
            return
        }
        switch operation {
        case .connect:
            guard result == 0 else {
                logLine("\(SystemCallError("connect to \(upstreamName)", code: -result))")
                beginClosing(connection, handle)
                return
            }
            submitReceive(on: &connection.clientToServer, connection, handle)
            submitReceive(on: &connection.serverToClient, connection, handle)
        case .receiveFromClient:
            received(result, on: &connection.clientToServer, connection, handle)
        case .receiveFromServer:
            received(result, on: &connection.serverToClient, connection, handle)
        case .sendToServer:
            sent(result, on: &connection.clientToServer, connection, handle)
        case .sendToClient:
            sent(result, on: &connection.serverToClient, connection, handle)
        }
    }

    /// Out of descriptors (EMFILE, ENFILE), the re-armed accept fails again at once and the
    /// loop spins logging until a connection closes; the engine is to stop accepting for a while
    /// instead, as PgBouncer does. The spike leaves that out.
    private func acceptCompleted(_ result: Int32) {
        submitAccept()
        guard result >= 0 else {
            if result != -EINTR && result != -ECONNABORTED {
                logLine("\(SystemCallError("accept", code: -result))")
            }
            return
        }
        do {
            try startRelay(clientFD: result)
        } catch {
            logLine("cannot relay a client: \(error)")
            close(result)
        }
    }

    /// Connects upstream first and only then starts receiving from the client: what the client
    /// sends meanwhile (PostgreSQL's startup message) waits in its socket.
    private func startRelay(clientFD: Int32) throws {
        try Sockets.disableNagle(clientFD)
        let serverFD = try Sockets.upstreamSocket(family: upstreamFamily, nonBlocking: false)
        let connection = URingConnection(clientFD: clientFD, serverFD: serverFD)
        guard let handle = connections.insert(connection) else {
            close(serverFD)
            throw ConfigurationError("connection table full")
        }
        let entry = nextSubmission()
        upstreamAddress.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            io_uring_prep_connect(entry, serverFD, $0, upstreamAddressLength)
        }
        io_uring_sqe_set_data64(entry, handle.token(tag: URingOperation.connect.rawValue))
        connection.operationsInFlight += 1
    }

    private func received(_ result: Int32, on lane: inout URingLane, _ connection: URingConnection,
                          _ handle: SlotTable<URingConnection>.Handle) {
        guard result > 0 else {  // 0: EOF; negative: the socket failed
            beginClosing(connection, handle)
            return
        }
        lane.buffer.didReceive(Int(result))
        submitSend(on: &lane, connection, handle)
    }

    /// A send may take fewer bytes than it was given (the peer's socket buffer filled up): the
    /// rest is sent before the source is read again.
    private func sent(_ result: Int32, on lane: inout URingLane, _ connection: URingConnection,
                      _ handle: SlotTable<URingConnection>.Handle) {
        guard result >= 0 else {
            beginClosing(connection, handle)
            return
        }
        lane.buffer.didSend(Int(result))
        if lane.buffer.isEmpty {
            submitReceive(on: &lane, connection, handle)
        } else {
            submitSend(on: &lane, connection, handle)
        }
    }

    private func submitReceive(on lane: inout URingLane, _ connection: URingConnection,
                               _ handle: SlotTable<URingConnection>.Handle) {
        let entry = nextSubmission()
        let space = lane.buffer.freeSpace
        io_uring_prep_recv(entry, lane.sourceFD, space.pointer, space.count, 0)
        io_uring_sqe_set_data64(entry, handle.token(tag: lane.receiveOperation.rawValue))
        connection.operationsInFlight += 1
    }

    private func submitSend(on lane: inout URingLane, _ connection: URingConnection,
                            _ handle: SlotTable<URingConnection>.Handle) {
        let entry = nextSubmission()
        let pending = lane.buffer.pendingBytes
        io_uring_prep_send(entry, lane.destinationFD, pending.pointer, pending.count, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(entry, handle.token(tag: lane.sendOperation.rawValue))
        connection.operationsInFlight += 1
    }

    /// Ends both sides once either reaches EOF or fails. The other direction's operation is still
    /// in flight (a receive waiting for data, or a send waiting for space): shutting the sockets
    /// down wakes it, it completes with EOF or EPIPE, and the last completion frees the pair.
    private func beginClosing(_ connection: URingConnection, _ handle: SlotTable<URingConnection>.Handle) {
        guard !connection.closing else { return }
        connection.closing = true
        shutdown(connection.clientFD, Int32(SHUT_RDWR))
        shutdown(connection.serverFD, Int32(SHUT_RDWR))
        finishClosing(connection, handle)
    }

    private func finishClosing(_ connection: URingConnection, _ handle: SlotTable<URingConnection>.Handle) {
        guard connection.operationsInFlight == 0 else { return }
        close(connection.clientFD)
        close(connection.serverFD)
        connections.remove(handle)
    }
}
