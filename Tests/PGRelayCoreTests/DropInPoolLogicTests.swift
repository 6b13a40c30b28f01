import NIOCore
import PGWire
import XCTest
@testable import PGRelayCore

/// PgBouncer keys that are pure bookkeeping: client connection limits, host lists, login retry.
final class DropInPoolLogicTests: XCTestCase {
    // MARK: max_db_client_connections / max_user_client_connections

    func testClientLimitsRefuseTheClientOverEitherLimit() {
        struct Step { let database: String; let user: String; let maxDB: Int; let maxUser: Int; let expected: ClientLimitRefusal? }
        let steps = [
            Step(database: "a", user: "u", maxDB: 2, maxUser: 0, expected: nil),
            Step(database: "a", user: "v", maxDB: 2, maxUser: 0, expected: nil),
            Step(database: "a", user: "w", maxDB: 2, maxUser: 0, expected: .database),  // third client of "a"
            Step(database: "b", user: "u", maxDB: 0, maxUser: 2, expected: nil),        // u's second
            Step(database: "c", user: "u", maxDB: 0, maxUser: 2, expected: .user),      // u's third
            Step(database: "c", user: "x", maxDB: 0, maxUser: 0, expected: nil),        // 0 = unlimited
        ]
        var counts = ClientConnectionCounts()
        for (number, step) in steps.enumerated() {
            XCTAssertEqual(counts.admit(database: step.database, user: step.user, maxPerDatabase: step.maxDB, maxPerUser: step.maxUser),
                           step.expected, "step \(number)")
        }
        XCTAssertEqual(counts.perDatabase, ["a": 2, "b": 1, "c": 1])
        XCTAssertEqual(counts.perUser, ["u": 2, "v": 1, "x": 1])
    }

    func testClientLimitsFreeASlotWhenAClientLeaves() {
        var counts = ClientConnectionCounts()
        XCTAssertNil(counts.admit(database: "a", user: "u", maxPerDatabase: 1, maxPerUser: 0))
        XCTAssertEqual(counts.admit(database: "a", user: "v", maxPerDatabase: 1, maxPerUser: 0), .database)
        counts.leave(database: "a", user: "u")
        XCTAssertEqual(counts.perDatabase, [:])
        XCTAssertNil(counts.admit(database: "a", user: "v", maxPerDatabase: 1, maxPerUser: 0))
        // Leaving twice (or unknown names) never goes below zero.
        counts.leave(database: "a", user: "v")
        counts.leave(database: "a", user: "v")
        counts.leave(database: "nope", user: "nobody")
        XCTAssertEqual(counts.perDatabase, [:])
        XCTAssertEqual(counts.perUser, [:])
    }

    func testClientLimitRefusalIsPgBouncersMessageWithTooManyConnections() {
        XCTAssertEqual(ClientLimitRefusal.database.error.sqlState, "53300")
        XCTAssertEqual(ClientLimitRefusal.database.error.message, "client connections exceeded (max_db_client_connections)")
        XCTAssertEqual(ClientLimitRefusal.user.error.message, "client connections exceeded (max_user_client_connections)")
        XCTAssertEqual(ClientLimitRefusal.user.error.severity, "FATAL")
    }

    // MARK: host= lists and load_balance_hosts

    func testRoundRobinTakesTheNextHostForEveryConnection() {
        var rotation = HostRotation(hostCount: 3, mode: .roundRobin)
        var picked: [Int] = []
        for attempt in 0..<7 {
            picked.append(rotation.next())
            rotation.attemptEnded(succeeded: attempt % 2 == 0)
        }
        XCTAssertEqual(picked, [0, 1, 2, 0, 1, 2, 0])
    }

    func testDisableStaysOnAHostUntilAConnectionToItFails() {
        var rotation = HostRotation(hostCount: 3, mode: .disable)
        let outcomes = [true, true, false, true, false, false, true]
        var picked: [Int] = []
        for succeeded in outcomes {
            picked.append(rotation.next())
            rotation.attemptEnded(succeeded: succeeded)
        }
        XCTAssertEqual(picked, [0, 0, 0, 1, 1, 2, 0])
    }

    func testASingleHostOrAnEmptyListAlwaysGivesTheFirst() {
        for mode in [LoadBalanceHosts.roundRobin, .disable] {
            for count in [0, 1] {
                var rotation = HostRotation(hostCount: count, mode: mode)
                for _ in 0..<3 {
                    XCTAssertEqual(rotation.next(), 0)
                    rotation.attemptEnded(succeeded: false)
                }
            }
        }
    }

    // MARK: server_login_retry

    func testAfterAFailureTheNextAttemptWaitsTheRetryAndRunsAlone() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var retry = ServerLoginRetry()
        XCTAssertTrue(retry.mayConnect(now: start, retry: 15, inFlight: 0), "untried: a first attempt")
        XCTAssertFalse(retry.mayConnect(now: start, retry: 15, inFlight: 1), "untried: one attempt at a time")
        retry.succeeded()
        XCTAssertTrue(retry.mayConnect(now: start, retry: 15, inFlight: 3), "after a success: any number of attempts")
        retry.failed(at: start, message: "could not connect")
        XCTAssertFalse(retry.mayConnect(now: start + .seconds(14), retry: 15, inFlight: 0))
        XCTAssertTrue(retry.mayConnect(now: start + .seconds(15), retry: 15, inFlight: 0))
        XCTAssertFalse(retry.mayConnect(now: start + .seconds(20), retry: 15, inFlight: 1), "one attempt at a time after a failure")
        XCTAssertTrue(retry.mayConnect(now: start, retry: 0, inFlight: 0), "server_login_retry = 0 retries at once")
        retry.succeeded()
        XCTAssertTrue(retry.mayConnect(now: start, retry: 15, inFlight: 2))
    }

    func testTransientFailuresBackOffFromAQuarterSecondUpToTheRetry() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var retry = ServerLoginRetry()
        var waits: [Double] = []
        for attempt in 0..<8 {
            retry.failed(at: start + .seconds(Int64(attempt)), message: "could not connect", transient: true)
            waits.append(retry.wait(retry: 15))
        }
        XCTAssertEqual(waits, [0.25, 0.5, 1, 2, 4, 8, 15, 15])
        XCTAssertFalse(retry.mayConnect(now: start + .seconds(7) + .milliseconds(14_999), retry: 15, inFlight: 0))
        XCTAssertTrue(retry.mayConnect(now: start + .seconds(7) + .seconds(15), retry: 15, inFlight: 0))
        XCTAssertEqual(retry.wait(retry: 0.1), 0.1, "server_login_retry below the backoff caps it")
        retry.failed(at: start, message: "password authentication failed", transient: false)
        XCTAssertEqual(retry.wait(retry: 15), 15, "a refusal waits the whole server_login_retry, as PgBouncer")
        retry.failed(at: start, message: "could not connect", transient: true)
        XCTAssertEqual(retry.wait(retry: 15), 0.25, "a refusal in between starts the backoff anew")
        retry.succeeded()
        XCTAssertEqual(retry.wait(retry: 15), 0)
    }

    func testWhichLoginFailuresAreTransient() {
        let cases: [(ErrorFields, Bool, Bool)] = [
            (ErrorFields(sqlState: "08006", message: "could not connect"), false, true),
            (ErrorFields(severity: "FATAL", sqlState: "57P03", message: "the database system is starting up"), true, true),
            (ErrorFields(severity: "FATAL", sqlState: "57P01", message: "terminating connection due to administrator command"), true, true),
            (ErrorFields(severity: "FATAL", sqlState: "28P01", message: "password authentication failed"), true, false),
            (ErrorFields(severity: "FATAL", sqlState: "3D000", message: "database does not exist"), true, false),
            (ErrorFields(severity: "FATAL", sqlState: "XX000", message: "internal error"), true, false),
        ]
        for (error, answered, transient) in cases {
            XCTAssertEqual(ServerLoginRetry.isTransient(error, serverAnswered: answered), transient, error.message)
        }
    }

    func testNewClientsFailFastOnlyWhileLoginsFailAndNoServerIsAlive() throws {
        var retry = ServerLoginRetry()
        XCTAssertNil(retry.fastFailError(serversAlive: 0))
        retry.failed(at: .now(), message: "connection refused")
        XCTAssertNil(retry.fastFailError(serversAlive: 1))
        let error = try XCTUnwrap(retry.fastFailError(serversAlive: 0))
        XCTAssertEqual(error.message, "server login has been failing, cached error: connection refused (server_login_retry)")
        retry.succeeded()
        XCTAssertNil(retry.fastFailError(serversAlive: 0))
    }

    func testOnlyALoginTheServerRefusedFailsTheQueuedClients() {
        let refused = ErrorFields(severity: "FATAL", sqlState: "28P01", message: "password authentication failed")
        let startingUp = ErrorFields(severity: "FATAL", sqlState: "57P03", message: "the database system is starting up")
        let unreachable = ErrorFields(sqlState: "08006", message: "could not connect")
        XCTAssertTrue(ServerLoginFailure.failsWaitingClients(refused, serverAnswered: true))
        XCTAssertFalse(ServerLoginFailure.failsWaitingClients(startingUp, serverAnswered: true))
        XCTAssertFalse(ServerLoginFailure.failsWaitingClients(unreachable, serverAnswered: false))
    }
}
