import PGRelayCore
import XCTest

final class RoutingReplicaReadRetryTests: XCTestCase {
    func testSessionEndingErrorsBeforeAnyAnswerAreRetried() {
        for state in ["57P01", "57P02", "57P03"] {
            XCTAssertTrue(ReplicaReadRetry.retriesAfterError(sqlState: state, answered: false, inTransaction: false, readsInFlight: 1), state)
        }
    }

    func testTheReadsOwnErrorsReachTheClient() {
        for state in ["42P01", "22012", "57014", "40001", "08006", nil] as [String?] {
            XCTAssertFalse(ReplicaReadRetry.retriesAfterError(sqlState: state, answered: false, inTransaction: false, readsInFlight: 1),
                           state ?? "nil")
        }
    }

    func testNothingIsRetriedOnceAnsweredInsideATransactionOrWithoutARead() {
        XCTAssertFalse(ReplicaReadRetry.retriesAfterError(sqlState: "57P01", answered: true, inTransaction: false, readsInFlight: 1))
        XCTAssertFalse(ReplicaReadRetry.retriesAfterError(sqlState: "57P01", answered: false, inTransaction: true, readsInFlight: 1))
        XCTAssertFalse(ReplicaReadRetry.retriesAfterError(sqlState: "57P01", answered: false, inTransaction: false, readsInFlight: 0))
    }
}
