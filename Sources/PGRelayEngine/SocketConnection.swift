#if os(Linux)
import Glibc
import NIOCore

/// One TCP or Unix-socket connection, owned by one reactor for its whole life and used only on
/// that reactor's thread (from elsewhere: `connection.reactor.execute { ... }`).
///
/// The socket is registered once, edge-triggered, for input, output and the peer's FIN. On an
/// input edge the connection reads into the reactor's receive buffer until EAGAIN or a short
/// read, hands what arrived to its delegate, then says `readComplete`. Writes are queued as they
/// come and sent on `flush` with one `send` (one buffer) or one gathered `sendmsg` of up to 1024
/// buffers per system call; what the socket does not take waits for the next output edge.
/// `isWritable` follows the queued bytes across the watermarks, and `setReading(false)` stops
/// reading, so that a relay can hold a fast side back while the other is slow.
///
/// Made by a `Listener` (accepted) or the `Connector` (connected); nothing is read, and the
/// delegate hears nothing, until `start(delegate:)`. Every connection handed out must be started
/// or closed: an accepted one that is dropped unstarted closes its descriptor when released, a
/// connected one stays registered with its reactor until closed.
public final class SocketConnection: ReactorEventHandler, @unchecked Sendable {
    /// Why a connection closed, as its delegate's `closed` reports it.
    public enum CloseReason: Equatable, Sendable, CustomStringConvertible {
        /// `close()` was called (or `close(.afterQueuedWrites)` finished).
        case closedLocally
        /// The peer finished sending (a read returned 0). Whatever it sent before was delivered.
        case endOfInput
        /// A read, a write or the socket itself failed: ECONNRESET, EPIPE, ETIMEDOUT, ...
        case failed(SystemCallError)
        /// The reactor's group shut down.
        case reactorShutDown

        public var description: String {
            switch self {
            case .closedLocally: return "closed locally"
            case .endOfInput: return "end of input"
            case .failed(let error): return "failed: \(error)"
            case .reactorShutDown: return "reactor shut down"
            }
        }
    }

    /// How `close` treats output that is queued and not yet sent.
    public enum CloseMode: Sendable {
        /// Drop it and close now.
        case immediately
        /// Stop reading, send everything queued, then close (a final ErrorResponse, say). The
        /// caller bounds how long this may take, with a timer and `close(.immediately)`.
        case afterQueuedWrites
    }

    private enum State {
        /// Handed out, not started: edges are noted, nothing is read or sent.
        case created
        case active
        case closed
    }

    private enum OutputState {
        case open
        /// `halfClose()`: shutdown(SHUT_WR) once the queue is sent; no further writes.
        case shutdownAfterWrites
        /// `close(.afterQueuedWrites)`: close once the queue is sent; no further writes.
        case closeAfterWrites
        /// The write side is shut down.
        case shutDown
    }

    /// The reactor that owns the connection.
    public let reactor: Reactor
    public let options: SocketConnectionOptions

    /// Internal, not private, for tests that check socket options.
    let descriptor: Int32
    private var registration: RegistrationToken?
    private var state = State.created
    private var outputState = OutputState.open
    private var delegate: SocketConnectionDelegate?

    /// Edge-triggered epoll reports a socket when it becomes readable or writable, not while it
    /// stays so: these remember the last edge until a call returns EAGAIN (or, for input, a
    /// read comes back short: `SocketCalls.read`). Both start true, so a
    /// new connection tries once (data may have arrived before it was registered).
    private var readableEdge = true
    /// Epoll reported the peer's FIN (RDHUP/HUP) or an error: reads go on until the end of
    /// input or EAGAIN instead of stopping at a short read (`SocketCalls.read`).
    private var peerMayHaveFinished = false
    private var writableEdge = true
    private var readingEnabled = true
    private var deferredReadScheduled = false

    private var writeQueue = WriteQueue()
    /// False while more than the high watermark is queued (see `SocketConnectionOptions`).
    public private(set) var isWritable = true

    private var cachedLocalAddress: SocketAddress?
    private var cachedRemoteAddress: SocketAddress?

    /// `registration` is the token of a descriptor already registered for `Epoll.connectionEvents`
    /// (a connect that finished); nil for one to register at `start`.
    init(descriptor: Int32, reactor: Reactor, options: SocketConnectionOptions, registration: RegistrationToken?) {
        self.descriptor = descriptor
        self.reactor = reactor
        self.options = options
        self.registration = registration
    }

    deinit {
        // Only an accepted connection that was never started gets here open: a registered one
        // is kept alive by its reactor until it closes.
        if state != .closed {
            SocketCalls.close(descriptor)
        }
    }

    // MARK: - Public interface (on the reactor's thread)

    /// Sets the delegate and starts reading. Once; later calls are ignored.
    public func start(delegate: SocketConnectionDelegate) {
        assert(reactor.inEventLoop, "SocketConnection used off its reactor's thread")
        guard state == .created else { return }
        self.delegate = delegate
        if registration == nil {
            do {
                registration = try reactor.register(descriptor, events: Epoll.connectionEvents, handler: self)
            } catch {
                close(reason: .failed(error))
                return
            }
        }
        state = .active
        scheduleRead()
        if writeQueue.hasFlushedBytes {
            sendFlushed()
        }
    }

    /// Queues `bytes` for the next `flush`. Ignored once the connection is closed or its output
    /// is shut down (or being shut down).
    public func write(_ bytes: ByteBuffer) {
        assert(reactor.inEventLoop, "SocketConnection used off its reactor's thread")
        guard state != .closed, outputState == .open else { return }
        writeQueue.append(bytes)
        if isWritable && writeQueue.queuedBytes > options.highWatermark {
            isWritable = false
            delegate?.writabilityChanged(false, on: self)
        }
    }

    /// Sends what was written so far, as far as the socket takes it now; the rest goes out as
    /// the socket drains.
    public func flush() {
        assert(reactor.inEventLoop, "SocketConnection used off its reactor's thread")
        guard state != .closed else { return }
        writeQueue.markFlushed()
        if state == .active && writableEdge && writeQueue.hasFlushedBytes {
            sendFlushed()
        }
    }

    /// Pauses (false) or resumes (true) reading. Resuming reads at once if the socket had input
    /// pending (at the end of the reactor's current turn, not inside this call), since
    /// edge-triggered epoll does not report it again.
    public func setReading(_ enabled: Bool) {
        assert(reactor.inEventLoop, "SocketConnection used off its reactor's thread")
        guard state != .closed, readingEnabled != enabled else { return }
        readingEnabled = enabled
        if enabled {
            scheduleRead()
        }
    }

    public var isReading: Bool { readingEnabled && state != .closed }

    /// Shuts down the write side (shutdown(SHUT_WR)) once everything written has been sent: the
    /// peer reads its end of input, and this connection keeps reading what the peer still sends.
    /// Implies a flush; later writes are ignored.
    public func halfClose() {
        assert(reactor.inEventLoop, "SocketConnection used off its reactor's thread")
        guard state != .closed, outputState == .open else { return }
        outputState = .shutdownAfterWrites
        flushOrFinishOutput()
    }

    /// Closes the connection; the delegate is told `.closedLocally` (once, before this returns
    /// for `.immediately`). Idempotent.
    public func close(_ mode: CloseMode = .immediately) {
        assert(reactor.inEventLoop, "SocketConnection used off its reactor's thread")
        switch mode {
        case .immediately:
            close(reason: .closedLocally)
        case .afterQueuedWrites:
            guard state != .closed else { return }
            guard !writeQueue.isEmpty else {
                close(reason: .closedLocally)
                return
            }
            outputState = .closeAfterWrites
            readingEnabled = false
            flushOrFinishOutput()
        }
    }

    public var isOpen: Bool { state != .closed }

    /// Output bytes queued and not yet sent (flushed or not).
    public var queuedBytes: Int { writeQueue.queuedBytes }

    /// The socket's own address (getsockname, asked once); nil once closed before it was asked.
    public var localAddress: SocketAddress? {
        if cachedLocalAddress == nil && state != .closed {
            cachedLocalAddress = try? SocketCalls.localAddress(of: descriptor)
        }
        return cachedLocalAddress
    }

    /// The peer's address (getpeername, asked once); nil once closed before it was asked.
    public var remoteAddress: SocketAddress? {
        if cachedRemoteAddress == nil && state != .closed {
            cachedRemoteAddress = try? SocketCalls.remoteAddress(of: descriptor)
        }
        return cachedRemoteAddress
    }

    /// Sets an integer socket option (TCP keepalive, TCP_USER_TIMEOUT, ...).
    public func setOption(_ option: SocketOption) throws {
        assert(reactor.inEventLoop, "SocketConnection used off its reactor's thread")
        guard state != .closed else { throw SystemCallError("setsockopt(\(option.label))", code: EBADF) }
        try SocketCalls.setOption(descriptor, level: option.level, option: option.name, value: option.value, name: option.label)
    }

    /// The user id of the process at the other end of a Unix socket (SO_PEERCRED); nil for TCP or
    /// when it cannot be read.
    public var peerUserID: uid_t? {
        guard state != .closed else { return nil }
        return SocketCalls.peerUserID(descriptor)
    }

    /// Gives the socket up without closing it: out of the reactor, no more events, the delegate
    /// released without a `closed` call. For a connection that moves to another I/O layer (a
    /// TLS handshake on NIO). Only when nothing is queued for sending (nil otherwise, and the
    /// connection is unchanged); the caller owns the returned descriptor.
    public func detachDescriptor() -> Int32? {
        assert(reactor.inEventLoop, "SocketConnection used off its reactor's thread")
        guard state != .closed, writeQueue.isEmpty else { return nil }
        state = .closed
        if let registration {
            reactor.deregister(registration, keepingOpen: descriptor)
            self.registration = nil
        }
        delegate = nil
        return descriptor
    }

    // MARK: - Events (ReactorEventHandler)

    func handleEvents(_ events: UInt32) {
        if events & Epoll.inputEvents != 0 {
            readableEdge = true
            if events & Epoll.peerFinishedEvents != 0 { peerMayHaveFinished = true }
        }
        if events & Epoll.outputEvents != 0 {
            writableEdge = true
        }
        guard state == .active else { return }
        // A socket error (a reset, an unreachable peer) would surface in the next read or
        // write; with reading paused and nothing to send, nothing would notice it.
        if events & Epoll.errorEvent != 0 && !readingEnabled && !writeQueue.hasFlushedBytes {
            let code = SocketCalls.pendingError(descriptor)
            if code != 0 {
                close(reason: .failed(SystemCallError("socket error", code: code)))
                return
            }
        }
        if writableEdge && writeQueue.hasFlushedBytes {
            sendFlushed()
        }
        if state == .active && readableEdge && readingEnabled {
            readUntilWouldBlock()
        }
    }

    func closeForShutdown() {
        close(reason: .reactorShutDown)
    }

    /// The reactor's end-of-turn read after `setReading(true)` or `start`.
    func performDeferredRead() {
        deferredReadScheduled = false
        if state == .active && readableEdge && readingEnabled {
            readUntilWouldBlock()
        }
    }

    // MARK: - Reading

    private func scheduleRead() {
        guard state == .active, readingEnabled, readableEdge, !deferredReadScheduled else { return }
        deferredReadScheduled = true
        reactor.scheduleDeferredRead(self)
    }

    /// Reads until EAGAIN (edge-triggered epoll reports no more input until then), the end of
    /// input, an error, a pause or a close by the delegate. A read that leaves room in the buffer
    /// is followed by another into the same buffer, so that one burst is delivered as one
    /// `bytesReceived`; a full buffer is delivered at once.
    private func readUntilWouldBlock() {
        // Held for the whole run of reads: each `self.delegate?` call would retain and release
        // it. Whether the connection is still active is checked after each callback, as before.
        guard let delegate else { return }
        var buffer = reactor.receiveBuffers.take()
        var delivered = false
        // The read's own outcome (no payload to copy) until the end: a `CloseReason` carries a
        // String, which costs copies and releases on this path.
        var ending: SocketCalls.ReadOutcome?
        reading: while true {
            let outcome = SocketCalls.read(descriptor, into: &buffer, stopAtShortRead: !peerMayHaveFinished)
            switch outcome {
            case .bufferFull:
                deliver(&buffer, to: delegate)
                delivered = true
                guard state == .active && readingEnabled else { break reading }
                reactor.receiveBuffers.giveBack(buffer)
                buffer = reactor.receiveBuffers.take()
            case .wouldBlock:
                readableEdge = false
                break reading
            case .endOfInput, .failed:
                ending = outcome
                break reading
            }
        }
        if buffer.readableBytes > 0 && state == .active {
            deliver(&buffer, to: delegate)
            delivered = true
        }
        reactor.receiveBuffers.giveBack(buffer)
        if delivered && state == .active {
            delegate.readComplete(on: self)
        }
        switch ending {
        case .failed(let code):
            close(reason: .failed(SystemCallError("read", code: code)))
        case .endOfInput:
            close(reason: .endOfInput)
        case .bufferFull, .wouldBlock, nil:
            break
        }
    }

    /// Hands the buffer's bytes to the delegate and marks them taken. Moving the reader index
    /// changes only this copy's indices, not the storage the delegate may keep.
    private func deliver(_ buffer: inout ByteBuffer, to delegate: SocketConnectionDelegate) {
        delegate.bytesReceived(buffer, on: self)
        buffer.moveReaderIndex(to: buffer.writerIndex)
    }

    // MARK: - Writing

    /// Sends flushed output until it is all sent or the socket is full (EAGAIN: the next output
    /// edge resumes). A partial write is not taken as proof the socket is full: the next call
    /// finds out, which costs a system call only when output backs up.
    private func sendFlushed() {
        while writableEdge && writeQueue.hasFlushedBytes {
            switch writeQueue.send(to: descriptor, ioVectors: reactor.ioVectors) {
            case .transferred(let count):
                writeQueue.didSend(count)
            case .wouldBlock:
                writableEdge = false
            case .failed(let code):
                close(reason: .failed(SystemCallError("sendmsg", code: code)))
                return
            }
        }
        outputProgressed()
    }

    /// After bytes left the queue: writability back on at the low watermark, and a pending
    /// half-close or close once the queue is empty.
    private func outputProgressed() {
        if !isWritable && writeQueue.queuedBytes <= options.lowWatermark {
            isWritable = true
            delegate?.writabilityChanged(true, on: self)
            guard state != .closed else { return }
        }
        guard writeQueue.isEmpty else { return }
        switch outputState {
        case .shutdownAfterWrites:
            outputState = .shutDown
            do {
                try SocketCalls.shutdownOutput(descriptor)
            } catch {
                close(reason: .failed(error))
            }
        case .closeAfterWrites:
            close(reason: .closedLocally)
        case .open, .shutDown:
            break
        }
    }

    /// For a half-close or close that waits for the queue: flush, and finish at once if there is
    /// nothing to send (or, before `start`, leave it to `start`).
    private func flushOrFinishOutput() {
        writeQueue.markFlushed()
        if writeQueue.isEmpty {
            outputProgressed()
        } else if state == .active && writableEdge {
            sendFlushed()
        }
    }

    // MARK: - Closing

    private func close(reason: CloseReason) {
        guard state != .closed else { return }
        state = .closed
        if let registration {
            reactor.deregister(registration)
            self.registration = nil
        }
        // Closing also takes the descriptor out of the epoll set.
        SocketCalls.close(descriptor)
        writeQueue.removeAll()
        let delegate = self.delegate
        self.delegate = nil  // breaks the delegate's reference cycle with the connection
        delegate?.closed(reason, on: self)
    }
}
#endif
