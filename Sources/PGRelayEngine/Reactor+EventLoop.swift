#if os(Linux)
import Dispatch
import NIOCore

/// NIO's `EventLoop` on a reactor: futures, promises, `execute`, `submit`, `scheduleTask` and
/// the `inEventLoop` preconditions work as on NIO's own loops, so that code written against
/// `EventLoop` (pool orchestration, health checks) runs unchanged on the engine's threads.
extension Reactor: EventLoop {
    public var inEventLoop: Bool { isOnReactorThread }

    /// Tasks queued after the reactor's group has shut down are dropped, as NIO's loops do.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        enqueue(task)
    }

    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = makePromise()
        let timer = ScheduledTimer(
            deadline: deadline,
            fire: {
                do {
                    promise.succeed(try task())
                } catch {
                    promise.fail(error)
                }
            },
            abandon: { promise.fail(EventLoopError.shutdown) }
        )
        if !runOnReactor({ self.addTimer(timer) }) {
            promise.fail(EventLoopError.shutdown)
        }
        // `Scheduled.cancel()` fails the promise itself; this takes the timer out of the heap
        // (a cancel racing with the deadline may come too late: NIO's loops promise no more).
        return Scheduled(promise: promise, cancellationTask: {
            self.runOnReactor { self.removeTimer(timer) }
        })
    }

    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    /// A reactor stops with its group, never alone (as NIO's loops of a group): this reports
    /// `EventLoopError.unsupportedOperation`. Use `ReactorGroup.shutdownGracefully`.
    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        queue.async { callback(EventLoopError.unsupportedOperation) }
    }

    public var description: String { "Reactor(\(name))" }
}
#endif
