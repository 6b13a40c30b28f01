import PGRelayCore
import PGWire
import XCTest

final class SessionTransactionTrackerTests: XCTestCase {
    /// One step of a conversation: a client message type (sent) or a server ReadyForQuery (ready),
    /// and the tracker's state expected after it.
    enum Step {
        case sent(Character, expectsReady: Bool)
        case ready(TransactionStatus)
    }

    struct Expected: Equatable {
        var outstanding: Int
        var batchOpen: Bool
        var idle: Bool
        var quiet: Bool
    }

    func run(_ label: String, _ steps: [(Step, Expected)], file: StaticString = #filePath, line: UInt = #line) {
        var tracker = TransactionTracker()
        XCTAssertTrue(tracker.isIdle, label, file: file, line: line)
        for (index, (step, expected)) in steps.enumerated() {
            switch step {
            case .sent(let type, let expectsReady):
                XCTAssertEqual(tracker.clientSent(type.asciiValue!), expectsReady, "\(label) step \(index)", file: file, line: line)
            case .ready(let status):
                tracker.serverReady(status)
            }
            let actual = Expected(outstanding: tracker.outstanding, batchOpen: tracker.batchOpen, idle: tracker.isIdle, quiet: tracker.isQuiet)
            XCTAssertEqual(actual, expected, "\(label) step \(index)", file: file, line: line)
        }
    }

    let busy = Expected(outstanding: 1, batchOpen: false, idle: false, quiet: false)
    let idle = Expected(outstanding: 0, batchOpen: false, idle: true, quiet: true)
    let inTransaction = Expected(outstanding: 0, batchOpen: false, idle: false, quiet: true)
    let open = Expected(outstanding: 0, batchOpen: true, idle: false, quiet: false)

    func testSimpleQuery() {
        run("autocommit query", [(.sent("Q", expectsReady: true), busy), (.ready(.idle), idle)])
        run("BEGIN keeps the server", [
            (.sent("Q", expectsReady: true), busy), (.ready(.inTransaction), inTransaction),
            (.sent("Q", expectsReady: true), busy), (.ready(.inTransaction), inTransaction),
            (.sent("Q", expectsReady: true), busy), (.ready(.idle), idle),
        ])
        run("error inside a transaction", [
            (.sent("Q", expectsReady: true), busy), (.ready(.failed), inTransaction),
            (.sent("Q", expectsReady: true), busy), (.ready(.idle), idle),
        ])
        run("function call", [(.sent("F", expectsReady: true), busy), (.ready(.idle), idle)])
    }

    func testExtendedBatchEndsAtSyncNotAtFlush() {
        run("Parse Bind Describe Execute Flush Sync", [
            (.sent("P", expectsReady: false), open), (.sent("B", expectsReady: false), open),
            (.sent("D", expectsReady: false), open), (.sent("E", expectsReady: false), open),
            (.sent("H", expectsReady: false), open), (.ready(.idle), open),
            (.sent("S", expectsReady: true), busy), (.ready(.idle), idle),
        ])
        run("a Query ends an unsynced batch, as in PostgreSQL", [
            (.sent("P", expectsReady: false), open), (.sent("Q", expectsReady: true), busy), (.ready(.idle), idle),
        ])
        run("Close alone opens a batch", [(.sent("C", expectsReady: false), open), (.sent("S", expectsReady: true), busy), (.ready(.idle), idle)])
    }

    func testPipelinedSyncs() {
        let two = Expected(outstanding: 2, batchOpen: false, idle: false, quiet: false)
        let twoOpen = Expected(outstanding: 2, batchOpen: true, idle: false, quiet: false)
        run("two batches in flight, then a third opened", [
            (.sent("P", expectsReady: false), open), (.sent("S", expectsReady: true), busy),
            (.sent("B", expectsReady: false), Expected(outstanding: 1, batchOpen: true, idle: false, quiet: false)),
            (.sent("E", expectsReady: false), Expected(outstanding: 1, batchOpen: true, idle: false, quiet: false)),
            (.sent("S", expectsReady: true), two),
            (.sent("B", expectsReady: false), twoOpen),
            (.ready(.idle), Expected(outstanding: 1, batchOpen: true, idle: false, quiet: false)),
            (.ready(.idle), open),
            (.sent("S", expectsReady: true), busy), (.ready(.idle), idle),
        ])
        run("an error makes the server skip to Sync: one ReadyForQuery per Sync still", [
            (.sent("P", expectsReady: false), open), (.sent("B", expectsReady: false), open), (.sent("E", expectsReady: false), open),
            (.sent("S", expectsReady: true), busy),
            (.sent("P", expectsReady: false), Expected(outstanding: 1, batchOpen: true, idle: false, quiet: false)),
            (.sent("S", expectsReady: true), two),
            (.ready(.idle), busy), (.ready(.idle), idle),
        ])
    }

    func testMessagesThatDoNotCount() {
        var tracker = TransactionTracker()
        for type in ["d", "c", "f", "p", "X"] {
            XCTAssertFalse(tracker.clientSent(Character(type).asciiValue!), type)
        }
        XCTAssertTrue(tracker.isIdle)
        tracker.serverReady(.idle)
        XCTAssertEqual(tracker.outstanding, 0, "an unrequested ReadyForQuery does not go below zero")
        tracker.clientSent(FrontendType.parse)
        tracker.serverReady(.inTransaction)
        tracker.reset()
        XCTAssertEqual(tracker, TransactionTracker())
    }
}
