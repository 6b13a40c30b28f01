#if os(Linux)
import Dispatch
import NIOCore
import Synchronization

/// The engine's reactors, one thread each: an `EventLoopGroup` whose `next()` hands them out in
/// turn (a listener spreads its connections that way).
public final class ReactorGroup: EventLoopGroup, @unchecked Sendable {
    public let reactors: [Reactor]
    private let turn = Atomic<UInt>(0)

    private enum ShutdownState {
        case running
        /// The reactors were asked to stop; these callbacks wait for their threads to end.
        case stopping([(DispatchQueue, @Sendable (Error?) -> Void)])
        case stopped
    }
    private let shutdownState = LockedValue(ShutdownState.running)

    /// Starts `workers` reactors (at least one), each on its own thread, named
    /// "\(namePrefix)-N".
    public init(workers: Int, namePrefix: String = "reactor", configuration: Reactor.Configuration = .init()) throws {
        var started: [Reactor] = []
        do {
            for index in 0..<max(workers, 1) {
                let reactor = try Reactor(name: "\(namePrefix)-\(index)", configuration: configuration)
                try reactor.start()
                started.append(reactor)
            }
        } catch {
            for reactor in started {
                reactor.requestStop()
                reactor.join()
            }
            throw error
        }
        reactors = started
    }

    /// The next reactor in turn.
    public func nextReactor() -> Reactor {
        let index = turn.wrappingAdd(1, ordering: .relaxed).oldValue
        return reactors[Int(index % UInt(reactors.count))]
    }

    public func next() -> EventLoop { nextReactor() }

    public func makeIterator() -> EventLoopIterator { EventLoopIterator(reactors) }

    /// Stops every reactor (each closes its connections, runs its queued tasks and fails its
    /// timers) and calls `callback` on `queue` once all their threads have ended. Safe from any
    /// thread, a reactor's included, and more than once.
    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        let startsStopping: Bool = shutdownState.withLock { state in
            switch state {
            case .running:
                state = .stopping([(queue, callback)])
                return true
            case .stopping(var waiting):
                waiting.append((queue, callback))
                state = .stopping(waiting)
                return false
            case .stopped:
                queue.async { callback(nil) }
                return false
            }
        }
        guard startsStopping else { return }
        for reactor in reactors {
            reactor.requestStop()
        }
        // Joined on another thread: the caller may be one of the reactors.
        DispatchQueue.global().async {
            for reactor in self.reactors {
                reactor.join()
            }
            let waiting: [(DispatchQueue, @Sendable (Error?) -> Void)] = self.shutdownState.withLock { state in
                guard case .stopping(let waiting) = state else { return [] }
                state = .stopped
                return waiting
            }
            for (queue, callback) in waiting {
                queue.async { callback(nil) }
            }
        }
    }

    /// `syncShutdownGracefully` on a reactor would wait for its own thread to end.
    public func _preconditionSafeToSyncShutdown(file: StaticString, line: UInt) {
        if reactors.contains(where: { $0.inEventLoop }) {
            preconditionFailure("syncShutdownGracefully on one of the group's own reactors would never return", file: file, line: line)
        }
    }
}
#endif
