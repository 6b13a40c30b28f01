#if os(Linux)
import NIOCore
import XCTest

@testable import PGRelayEngine

final class TimerHeapTests: XCTestCase {
    private func timer(_ nanoseconds: UInt64, _ log: Log, _ name: String) -> ScheduledTimer {
        ScheduledTimer(deadline: .uptimeNanoseconds(nanoseconds), fire: { log.names.append(name) }, abandon: {})
    }

    final class Log {
        var names: [String] = []
    }

    /// Table: deadlines inserted in some order, some removed, all popped at the end: the order
    /// they fire in.
    func testFiresInDeadlineOrderThenInsertionOrder() {
        struct Case {
            let inserted: [(String, UInt64)]
            let removed: [String]
            let expected: [String]
        }
        let cases: [Case] = [
            Case(inserted: [], removed: [], expected: []),
            Case(inserted: [("a", 5)], removed: [], expected: ["a"]),
            Case(inserted: [("c", 30), ("a", 10), ("b", 20)], removed: [], expected: ["a", "b", "c"]),
            Case(inserted: [("first", 7), ("second", 7), ("third", 7)], removed: [], expected: ["first", "second", "third"]),
            Case(inserted: [("a", 1), ("b", 2), ("c", 3), ("d", 4)], removed: ["a"], expected: ["b", "c", "d"]),
            Case(inserted: [("a", 1), ("b", 2), ("c", 3), ("d", 4)], removed: ["d"], expected: ["a", "b", "c"]),
            Case(inserted: [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6), ("g", 7)],
                 removed: ["b", "f"], expected: ["a", "c", "d", "e", "g"]),
            Case(inserted: [("g", 7), ("f", 6), ("e", 5), ("d", 4), ("c", 3), ("b", 2), ("a", 1)],
                 removed: ["a", "g", "d"], expected: ["b", "c", "e", "f"]),
        ]
        for (index, testCase) in cases.enumerated() {
            let log = Log()
            var heap = TimerHeap()
            var timers: [String: ScheduledTimer] = [:]
            for (name, deadline) in testCase.inserted {
                let entry = timer(deadline, log, name)
                timers[name] = entry
                heap.insert(entry)
            }
            for name in testCase.removed {
                XCTAssertTrue(heap.remove(timers[name]!), "case \(index): remove \(name)")
                XCTAssertFalse(heap.remove(timers[name]!), "case \(index): remove \(name) twice")
            }
            XCTAssertEqual(heap.count, testCase.expected.count, "case \(index)")
            while let due = heap.popDue(now: .uptimeNanoseconds(UInt64.max / 2)) {
                due.fire()
            }
            XCTAssertEqual(log.names, testCase.expected, "case \(index)")
            XCTAssertTrue(heap.isEmpty, "case \(index)")
        }
    }

    func testPopsOnlyWhatIsDue() {
        let log = Log()
        var heap = TimerHeap()
        heap.insert(timer(100, log, "early"))
        heap.insert(timer(200, log, "late"))
        XCTAssertNil(heap.popDue(now: .uptimeNanoseconds(99)))
        XCTAssertEqual(heap.earliestDeadline, .uptimeNanoseconds(100))
        heap.popDue(now: .uptimeNanoseconds(100))?.fire()
        XCTAssertNil(heap.popDue(now: .uptimeNanoseconds(150)))
        XCTAssertEqual(heap.earliestDeadline, .uptimeNanoseconds(200))
        XCTAssertEqual(log.names, ["early"])
    }

    /// Many random inserts and removals against a sorted model.
    func testRandomOperationsMatchASortedModel() {
        var generator = SystemRandomNumberGenerator()
        let log = Log()
        var heap = TimerHeap()
        var live: [ScheduledTimer] = []
        for step in 0..<5000 {
            if live.isEmpty || UInt8.random(in: 0...2, using: &generator) > 0 {
                let entry = timer(UInt64.random(in: 0...1000, using: &generator), log, "\(step)")
                heap.insert(entry)
                live.append(entry)
            } else {
                let index = Int.random(in: 0..<live.count, using: &generator)
                XCTAssertTrue(heap.remove(live.remove(at: index)))
            }
        }
        var previous: NIODeadline = .uptimeNanoseconds(0)
        var popped = 0
        while let due = heap.popDue(now: .uptimeNanoseconds(10_000)) {
            XCTAssertGreaterThanOrEqual(due.deadline, previous)
            previous = due.deadline
            popped += 1
        }
        XCTAssertEqual(popped, live.count)
    }
}
#endif
