#if os(Linux)
import Dispatch
import Foundation
import NIOCore
import Synchronization
import XCTest

@testable import PGRelayEngine

final class ReactorTests: ReactorTestCase {
    override var workers: Int { 2 }

    func testExecuteRunsOnTheReactorThreadInOrder() throws {
        let order = LockedValue<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        XCTAssertFalse(reactor.inEventLoop)
        for index in 0..<100 {
            reactor.execute {
                XCTAssertTrue(self.reactor.inEventLoop)
                self.reactor.preconditionInEventLoop()
                order.withLock { $0.append(index) }
                if index == 99 { done.signal() }
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(order.withLock { $0 }, Array(0..<100))
    }

    /// Tasks from several threads at once all run (the wake-up coalescing loses none).
    func testExecuteFromManyThreadsLosesNothing() throws {
        let counter = LockedValue(0)
        let threads = 8
        let perThread = 2000
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<perThread {
                self.reactor.execute { counter.withLock { $0 += 1 } }
            }
        }
        EngineTest.waitUntil(on: reactor) { counter.withLock { $0 } == threads * perThread }
    }

    func testFuturesChainAndCompleteAcrossThreads() throws {
        let promise = reactor.makePromise(of: Int.self)
        let chained = promise.futureResult
            .map { $0 * 2 }
            .flatMap { value in self.group.reactors[1].submit { value + 1 } }
            .hop(to: reactor)
            .map { value -> String in
                XCTAssertTrue(self.reactor.inEventLoop)
                return "result \(value)"
            }
        // Completed from a thread that is not a reactor.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { promise.succeed(20) }
        XCTAssertEqual(try chained.wait(), "result 41")

        struct Failure: Error {}
        let failing = reactor.submit { () throws -> Int in throw Failure() }
        XCTAssertThrowsError(try failing.wait()) { XCTAssertTrue($0 is Failure) }
        XCTAssertEqual(try reactor.makeSucceededFuture(7).wait(), 7)
    }

    /// Table: delays in milliseconds scheduled together, the order they must fire in.
    func testScheduledTasksFireInDeadlineOrder() throws {
        let cases: [[Int64]] = [[30, 10, 20], [0, 0, 5], [15], [-5, 10]]
        for delays in cases {
            let fired = LockedValue<[Int64]>([])
            let scheduled = delays.map { delay in
                reactor.scheduleTask(in: .milliseconds(delay)) { fired.withLock { $0.append(delay) } }
            }
            for task in scheduled {
                try task.futureResult.wait()
            }
            XCTAssertEqual(fired.withLock { $0 }, delays.sorted(), "delays \(delays)")
        }
    }

    func testScheduledTaskFiresNoEarlierThanItsDeadline() throws {
        let start = NIODeadline.now()
        let firedAt = try reactor.scheduleTask(in: .milliseconds(50)) { NIODeadline.now() }.futureResult.wait()
        XCTAssertGreaterThanOrEqual((firedAt - start).nanoseconds, TimeAmount.milliseconds(50).nanoseconds)
    }

    func testCancelledTaskNeverRunsAndItsFutureFails() throws {
        let ran = LockedValue(false)
        // From another thread, and on the reactor itself.
        let fromOutside = reactor.scheduleTask(in: .milliseconds(100)) { ran.withLock { $0 = true } }
        fromOutside.cancel()
        let fromInside = try EngineTest.onReactor(reactor) {
            let task = self.reactor.scheduleTask(in: .milliseconds(100)) { ran.withLock { $0 = true } }
            task.cancel()
            return task
        }
        for task in [fromOutside, fromInside] {
            XCTAssertThrowsError(try task.futureResult.wait()) { error in
                XCTAssertEqual(error as? EventLoopError, .cancelled)
            }
        }
        // Past both deadlines: the heap no longer holds them, and nothing ran.
        try reactor.scheduleTask(in: .milliseconds(150)) {}.futureResult.wait()
        XCTAssertFalse(ran.withLock { $0 })
    }

    /// A timeout set and cancelled for every query must not leave entries behind until their
    /// deadlines: cancelled timers leave the heap at once.
    func testCancelledTimersDoNotPileUp() throws {
        let scheduled = (0..<10_000).map { _ in reactor.scheduleTask(in: .hours(1)) {} }
        XCTAssertEqual(try EngineTest.onReactor(reactor) { self.reactor.timerCount }, 10_000)
        scheduled.forEach { $0.cancel() }
        EngineTest.waitUntil(on: reactor) { self.reactor.timerCount == 0 }
    }

    func testThrowingScheduledTaskFailsItsFuture() throws {
        struct Failure: Error {}
        let task = reactor.scheduleTask(in: .milliseconds(1)) { () throws -> Int in throw Failure() }
        XCTAssertThrowsError(try task.futureResult.wait()) { XCTAssertTrue($0 is Failure) }
    }

    func testGroupHandsOutReactorsInTurn() throws {
        let first = group.nextReactor()
        let second = group.nextReactor()
        let third = group.nextReactor()
        XCTAssertFalse(first === second)
        XCTAssertTrue(first === third)
        XCTAssertTrue(group.next() === second)
        let iterated = Array(group.makeIterator())
        XCTAssertEqual(iterated.count, 2)
        XCTAssertTrue(iterated[0] === group.reactors[0] && iterated[1] === group.reactors[1])
        XCTAssertTrue(reactor.next() === reactor, "an EventLoop is its own group of one")
    }

    func testASingleReactorCannotBeShutDownAlone() throws {
        let result = LockedValue<Error?>(nil)
        let done = DispatchSemaphore(value: 0)
        reactor.shutdownGracefully(queue: .global()) { error in
            result.withLock { $0 = error }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(result.withLock { $0 } as? EventLoopError, .unsupportedOperation)
        // And it still works.
        XCTAssertEqual(try reactor.submit { 1 }.wait(), 1)
    }
}

/// Shutting a group down: what it does to timers, tasks, connections and descriptors.
final class ReactorGroupShutdownTests: XCTestCase {
    func testShutdownFailsPendingTimersAndClosesConnectionsAndDescriptors() throws {
        try EngineTest.startDispatchWorkers()
        let descriptorsBefore = EngineTest.openDescriptorCount()
        let group = try ReactorGroup(workers: 2, namePrefix: "shutdown")
        let reactor = group.reactors[0]
        let pending = reactor.scheduleTask(in: .hours(1)) { 1 }
        // Registered before: once the reactor has stopped, a future's callbacks can no longer
        // be scheduled on it (as with NIO's loops), so `wait()` would never return.
        let timerError = LockedValue<Error?>(nil)
        pending.futureResult.whenFailure { error in timerError.withLock { $0 = error } }
        let delegate = RecordingDelegate()
        let (_, testSide) = try EngineTest.connectionPair(on: reactor, delegate: delegate)
        defer { close(testSide) }

        try group.syncShutdownGracefully()

        XCTAssertEqual(timerError.withLock { $0 } as? EventLoopError, .shutdown)
        XCTAssertEqual(delegate.closeEvents, [.closed(.reactorShutDown)])
        // The peer of the closed connection reads its end of input.
        XCTAssertTrue(EngineTest.readToEnd(testSide).sawEndOfInput)
        // Tasks are refused now (dropped, as NIO's loops drop them), and the reactor's epoll and
        // eventfd are closed.
        reactor.execute { XCTFail("ran after shutdown") }
        XCTAssertEqual(EngineTest.openDescriptorCount(), descriptorsBefore + 1, "only the test's own socket end")
    }

    /// A listener made while its group stops (before, during or after the reactor's last turn)
    /// leaves no descriptor open.
    func testListenerMadeDuringShutdownLeaksNothing() throws {
        try EngineTest.startDispatchWorkers()
        let descriptorsBefore = EngineTest.openDescriptorCount()
        for _ in 0..<20 {
            let group = try ReactorGroup(workers: 1, namePrefix: "racing")
            let stopped = DispatchSemaphore(value: 0)
            group.shutdownGracefully { _ in stopped.signal() }
            let listener = try Listener(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group,
                                        onAccept: { $0.close() })
            XCTAssertEqual(stopped.wait(timeout: .now() + 10), .success)
            _ = listener
        }
        XCTAssertEqual(EngineTest.openDescriptorCount(), descriptorsBefore)
    }

    func testShutdownTwiceAndFromAReactorThread() throws {
        let group = try ReactorGroup(workers: 1, namePrefix: "twice")
        let calls = LockedValue(0)
        let done = DispatchSemaphore(value: 0)
        group.reactors[0].execute {
            // From the reactor's own thread: must not wait for itself.
            group.shutdownGracefully { error in
                XCTAssertNil(error)
                calls.withLock { $0 += 1 }
                done.signal()
            }
        }
        group.shutdownGracefully { error in
            XCTAssertNil(error)
            calls.withLock { $0 += 1 }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        try group.syncShutdownGracefully()
        XCTAssertEqual(calls.withLock { $0 }, 2)
    }
}
#endif
