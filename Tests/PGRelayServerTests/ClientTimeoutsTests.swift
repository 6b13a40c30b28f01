import NIOCore
import XCTest
@testable import PGRelayCore
@testable import PGRelayServer

/// A `[users]` entry's query_timeout, idle_transaction_timeout, client_idle_timeout and
/// transaction_timeout apply to the clients logged in as that user; 0 or absent keeps the global one.
final class ClientTimeoutsTests: XCTestCase {
    func testUserEntriesOverrideTheGlobalTimeouts() throws {
        let text = """
        [pgrelay]
        query_timeout = 10
        idle_transaction_timeout = 20
        client_idle_timeout = 0
        transaction_timeout = 0
        [users]
        fast = query_timeout=1 client_idle_timeout=2
        zero = query_timeout=0 transaction_timeout=3
        plain = pool_mode=transaction
        [databases]
        app = host=127.0.0.1
        """
        let timeouts = ClientTimeouts(config: try ConfigLoader.parse(text: text, path: "t.ini").config)
        let cases: [(user: String, query: Int64, idleTransaction: Int64, clientIdle: Int64, transaction: Int64)] = [
            ("fast", 1, 20, 2, 0),
            ("zero", 10, 20, 0, 3),
            ("plain", 10, 20, 0, 0),
            ("nobody", 10, 20, 0, 0),
        ]
        for test in cases {
            let amounts = timeouts.amounts(forUser: test.user)
            XCTAssertEqual(amounts.query, .seconds(test.query), test.user)
            XCTAssertEqual(amounts.idleTransaction, .seconds(test.idleTransaction), test.user)
            XCTAssertEqual(amounts.clientIdle, .seconds(test.clientIdle), test.user)
            XCTAssertEqual(amounts.transaction, .seconds(test.transaction), test.user)
        }
        XCTAssertTrue(timeouts.any)
    }

    func testOnlyAUserEntryCanMakeClientsTimeOut() throws {
        let base = "[pgrelay]\nlisten_port = 6432\n[databases]\napp = host=127.0.0.1\n"
        XCTAssertFalse(ClientTimeouts(config: try ConfigLoader.parse(text: base, path: "t.ini").config).any)
        let withUser = base + "[users]\nslow = idle_transaction_timeout=1\n"
        let timeouts = ClientTimeouts(config: try ConfigLoader.parse(text: withUser, path: "t.ini").config)
        XCTAssertTrue(timeouts.any, "a [users] timeout alone must make the clients be visited")
        XCTAssertEqual(timeouts.amounts(forUser: "slow").idleTransaction, .seconds(1))
    }
}
