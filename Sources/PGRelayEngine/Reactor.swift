#if os(Linux)
import CEngineLinux
import Dispatch
import Glibc
import NIOCore
import Synchronization

/// One thread running an edge-triggered epoll loop: the home of the connections, listeners and
/// timers registered with it, which are only ever touched on this thread.
///
/// Each turn of the loop waits in `epoll_wait` (until the next timer is due, or not at all when
/// work is pending), hands each event to the handler its token names, fires the timers that are
/// due, runs the tasks other threads (or this one) queued with `execute`, and lastly performs the
/// reads that resumed connections asked for. Other threads wake it with an eventfd.
///
/// A reactor is an `EventLoop` (Reactor+EventLoop.swift), so NIO's futures and promises work on
/// it. Reactors are made and stopped by a `ReactorGroup`.
public final class Reactor: @unchecked Sendable {
    /// What a group's reactors are made with.
    public struct Configuration: Sendable {
        /// The size of the reactor's receive buffer (`ReceiveBufferPool`): the most one read
        /// takes from a socket. 16 KiB holds a whole PostgreSQL flush (its send buffer is 8 KiB).
        public var receiveBufferSize: Int
        /// How many events one `epoll_wait` returns at most.
        public var eventsPerWait: Int

        public init(receiveBufferSize: Int = 16 * 1024, eventsPerWait: Int = 256) {
            // Bad values get a sane minimum rather than a crash.
            self.receiveBufferSize = max(receiveBufferSize, 1024)
            self.eventsPerWait = min(max(eventsPerWait, 1), 4096)
        }
    }

    /// What the tasks queue holds, guarded by one lock with the state other threads may change.
    private struct SharedState {
        var tasks: [() -> Void] = []
        /// A group asked this reactor to stop.
        var stopRequested = false
        /// False once the reactor has stopped: tasks are refused (and the wake-up descriptor is
        /// closed, so nobody may signal it any more).
        var acceptsTasks = true
        /// An eventfd signal was sent and the loop has not taken it yet: other threads need not
        /// send another, which saves a write system call per task when many arrive together.
        var wakeupPending = false
    }

    /// Linux's UIO_MAXIOV: the most buffers one gathered write (`sendmsg`) takes.
    static let maximumIOVectors = 1024

    /// For naming the thread and describing the reactor.
    public let name: String
    /// For the receive buffers, and for anyone who makes buffers for this reactor's connections.
    public let allocator = ByteBufferAllocator()
    /// The reactor's receive buffer (its connections read into it one at a time).
    var receiveBuffers: ReceiveBufferPool
    /// The iovecs of one gathered write, shared by the reactor's connections (one at a time).
    let ioVectors: UnsafeMutablePointer<iovec>

    private let epoll: Epoll
    private let wakeup: WakeupEventFD
    private let events: UnsafeMutablePointer<epoll_event>
    private let eventCapacity: Int32
    private let shared = LockedValue(SharedState())
    /// True while `shared` holds tasks or a stop request: lets the loop skip the lock on turns
    /// when nothing was queued (the common case on a busy relay). Set and cleared under the lock.
    private let hasQueuedWork = Atomic<Bool>(false)

    // Only touched on the reactor's thread:
    private var registrations = RegistrationTable()
    private var timers = TimerHeap()
    private var tasksBeingRun: [() -> Void] = []
    private var deferredReads: [SocketConnection] = []
    private var deferredReadsBeingRun: [SocketConnection] = []

    /// The reactor thread's pthread_t, stored by that thread before `start` returns and read by
    /// `inEventLoop` on any thread. Atomic (a relaxed load is a plain load on x86 and ARM) so
    /// that the thread sanitizer need not understand the semaphore that orders it.
    private let threadID = Atomic<UInt>(0)
    private var thread: ReactorThread?

    init(name: String, configuration: Configuration) throws {
        self.name = name
        epoll = try Epoll()
        do {
            wakeup = try WakeupEventFD()
        } catch {
            epoll.close()
            throw error
        }
        do {
            // Level-triggered: the loop reads the counter back to 0 each time it is reported.
            try epoll.add(wakeup.descriptor, events: EPOLLIN.rawValue, token: RegistrationTable.wakeupToken.rawValue)
        } catch {
            wakeup.close()
            epoll.close()
            throw error
        }
        eventCapacity = Int32(configuration.eventsPerWait)
        events = .allocate(capacity: configuration.eventsPerWait)
        ioVectors = .allocate(capacity: Self.maximumIOVectors)
        receiveBuffers = ReceiveBufferPool(bufferSize: configuration.receiveBufferSize, allocator: allocator)
    }

    deinit {
        events.deallocate()
        ioVectors.deallocate()
    }

    /// Starts the reactor's thread and returns once it runs (so that `inEventLoop` is right from
    /// the start on every thread).
    func start() throws {
        let running = DispatchSemaphore(value: 0)
        do {
            thread = try ReactorThread.start(name: name) {
                self.threadID.store(UInt(pthread_self()), ordering: .relaxed)
                running.signal()
                self.run()
            }
        } catch {
            wakeup.close()
            epoll.close()
            throw error
        }
        running.wait()
    }

    var isOnReactorThread: Bool { pthread_equal(pthread_t(threadID.load(ordering: .relaxed)), pthread_self()) != 0 }

    // MARK: - The loop

    private func run() {
        while true {
            let ready: Int
            do {
                ready = try epoll.wait(into: events, capacity: eventCapacity, timeoutMilliseconds: waitTimeout())
            } catch {
                // EBADF, EFAULT, EINVAL: the reactor's own descriptor or memory is broken.
                preconditionFailure("reactor \(name): \(error)")
            }
            for index in 0..<ready {
                let token = RegistrationToken(rawValue: events[index].data.u64)
                if token == RegistrationTable.wakeupToken {
                    wakeup.drain()
                    shared.withLock { $0.wakeupPending = false }
                } else {
                    // Nil for a handler closed earlier in this batch.
                    registrations[token]?.handleEvents(events[index].events)
                }
            }
            fireDueTimers()
            if runQueuedTasks() { break }
            performDeferredReads()
        }
        shutDown()
    }

    /// 0 while work is waiting, else until the next timer (rounded up to a millisecond, epoll's
    /// unit: never early), else without limit.
    private func waitTimeout() -> Int32 {
        if !deferredReads.isEmpty { return 0 }
        if hasQueuedWork.load(ordering: .acquiring) { return 0 }
        guard let deadline = timers.earliestDeadline else { return -1 }
        let now = NIODeadline.now()
        guard deadline > now else { return 0 }
        let nanoseconds = (deadline - now).nanoseconds
        let milliseconds = (nanoseconds + 999_999) / 1_000_000
        return Int32(clamping: milliseconds)
    }

    private func fireDueTimers() {
        guard !timers.isEmpty else { return }
        let now = NIODeadline.now()
        while let timer = timers.popDue(now: now) {
            timer.fire()
        }
    }

    /// Runs the tasks queued so far (not those they queue: they wait for the next turn, so that a
    /// task that queues itself cannot starve the sockets). Returns true when asked to stop.
    private func runQueuedTasks() -> Bool {
        guard hasQueuedWork.load(ordering: .acquiring) else { return false }
        let stopRequested = shared.withLock { state in
            swap(&state.tasks, &tasksBeingRun)
            // A stop request stays queued work: every later turn must see it too.
            hasQueuedWork.store(state.stopRequested, ordering: .releasing)
            return state.stopRequested
        }
        for task in tasksBeingRun {
            task()
        }
        tasksBeingRun.removeAll(keepingCapacity: true)
        return stopRequested
    }

    private func performDeferredReads() {
        guard !deferredReads.isEmpty else { return }
        swap(&deferredReads, &deferredReadsBeingRun)
        for connection in deferredReadsBeingRun {
            connection.performDeferredRead()
        }
        deferredReadsBeingRun.removeAll(keepingCapacity: true)
    }

    // MARK: - Tasks

    /// Queues `task` to run on the reactor's thread; false (and the task is dropped) once the
    /// reactor has stopped.
    @discardableResult
    func enqueue(_ task: @escaping () -> Void) -> Bool {
        let onReactorThread = isOnReactorThread
        return shared.withLock { state in
            guard state.acceptsTasks else { return false }
            state.tasks.append(task)
            hasQueuedWork.store(true, ordering: .releasing)
            // The loop checks its queue before it waits, so its own thread needs no wake-up.
            // The signal is sent under the lock so that it cannot reach the eventfd after the
            // stopped reactor has closed it (the descriptor number may belong to another file
            // by then).
            if !onReactorThread && !state.wakeupPending {
                state.wakeupPending = true
                wakeup.signal()
            }
            return true
        }
    }

    /// Runs `body` now when called on the reactor's thread, else queues it. False once stopped.
    @discardableResult
    func runOnReactor(_ body: @escaping () -> Void) -> Bool {
        if isOnReactorThread {
            body()
            return true
        }
        return enqueue(body)
    }

    // MARK: - Timers (on the reactor's thread)

    func addTimer(_ timer: ScheduledTimer) {
        timers.insert(timer)
    }

    func removeTimer(_ timer: ScheduledTimer) {
        timers.remove(timer)
    }

    /// How many timers are pending (for tests and statistics).
    var timerCount: Int { timers.count }

    // MARK: - Registrations (on the reactor's thread)

    func register(_ descriptor: Int32, events: UInt32, handler: ReactorEventHandler) throws(SystemCallError) -> RegistrationToken {
        let token = registrations.insert(handler)
        do {
            try epoll.add(descriptor, events: events, token: token.rawValue)
        } catch {
            registrations.remove(token)
            throw error
        }
        return token
    }

    /// Hands a registration to another handler (a finished connect's socket becomes a connection).
    func replaceHandler(of token: RegistrationToken, with handler: ReactorEventHandler) {
        registrations.replace(token, with: handler)
    }

    /// Forgets the handler of `token`. The caller closes the descriptor, which takes it out of
    /// the epoll set.
    func deregister(_ token: RegistrationToken) {
        registrations.remove(token)
    }

    /// Takes a descriptor out of the epoll set without closing it (it goes on living elsewhere).
    func deregister(_ token: RegistrationToken, keepingOpen descriptor: Int32) {
        try? epoll.remove(descriptor)
        registrations.remove(token)
    }

    /// How many descriptors are registered (for tests and statistics).
    var registrationCount: Int { registrations.count }

    /// Asks for `connection.performDeferredRead()` at the end of this turn of the loop: a resumed
    /// connection must read at once, as edge-triggered epoll may never report its pending bytes
    /// again, but not inside the callback that resumed it.
    func scheduleDeferredRead(_ connection: SocketConnection) {
        deferredReads.append(connection)
    }

    // MARK: - Stopping

    /// Asks the loop to stop; it closes what is registered, runs what is queued, fails the
    /// timers and ends its thread. From any thread; `join` waits for the end.
    func requestStop() {
        shared.withLock { state in
            guard state.acceptsTasks else { return }
            state.stopRequested = true
            hasQueuedWork.store(true, ordering: .releasing)
            if !state.wakeupPending {
                state.wakeupPending = true
                wakeup.signal()
            }
        }
    }

    /// Waits for the reactor's thread to end (after `requestStop`). Once, never on the thread.
    func join() {
        thread?.join()
    }

    /// On the reactor's thread, after the loop: connections are closed (their delegates are told
    /// `.reactorShutDown`), the tasks this queues run, then new tasks are refused and timers fail
    /// with `EventLoopError.shutdown`.
    private func shutDown() {
        // Closing may queue tasks, and a task may register something (a listener made while the
        // group stopped): close and run until neither is left (bounded: a task that always
        // queues another must not keep the reactor from stopping).
        for _ in 0..<1000 {
            closeRegisteredHandlers()
            performDeferredReads()
            let pending = shared.withLock { !$0.tasks.isEmpty }
            guard pending else { break }
            _ = runQueuedTasks()
        }
        shared.withLock { state in
            state.acceptsTasks = false
            swap(&state.tasks, &tasksBeingRun)
        }
        // Accepted before the door closed: they run (on this thread, as promised).
        for task in tasksBeingRun {
            task()
        }
        tasksBeingRun.removeAll()
        closeRegisteredHandlers()
        // Failing a timer's promise may run callbacks that schedule timers: until none is left.
        while !timers.isEmpty {
            for timer in timers.removeAll() {
                timer.abandon()
            }
        }
        deferredReads.removeAll()
        wakeup.close()
        epoll.close()
    }

    private func closeRegisteredHandlers() {
        for handler in registrations.allHandlers {
            handler.closeForShutdown()
        }
    }
}
#endif
