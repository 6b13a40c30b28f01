import XCTest
@testable import PGRelayCore

final class ConfigPoolSettingsTests: XCTestCase {
    private let text = """
        [pgrelay]
        pool_mode = transaction
        default_pool_size = 20
        min_pool_size = 1
        reserve_pool_size = 2
        max_db_connections = 100
        max_user_connections = 50
        server_lifetime = 3600
        query_timeout = 60
        max_packet_size = 65536
        max_startup_packet_size = 4096
        [databases]
        plain = host=h
        tuned = host=h dbname=real pool_mode=session pool_size=5 min_pool_size=3 reserve_pool_size=4 max_db_connections=0 server_lifetime=60
        [users]
        alice = pool_mode=statement pool_size=7 max_user_connections=9 query_timeout=0 transaction_timeout=5
        carol = reserve_pool_size=1
        """

    func testGlobalDefaultsApplyWithoutOverrides() throws {
        let config = try loadConfig(text).config
        let settings = config.poolSettings(database: try XCTUnwrap(config.database(named: "plain")), user: "bob")
        XCTAssertEqual(settings, PoolSettings(
            poolMode: .transaction, poolSize: 20, minPoolSize: 1, reservePoolSize: 2, reservePoolTimeout: 5,
            maxDBConnections: 100, maxDBClientConnections: 0, maxUserConnections: 50, maxUserClientConnections: 0,
            serverLifetime: 3600, serverIdleTimeout: 600, serverConnectTimeout: 15, queryTimeout: 60,
            queryWaitTimeout: 120, queryWaitNotify: 5, idleTransactionTimeout: 0, transactionTimeout: 0,
            clientIdleTimeout: 0, serverDatabase: "plain", resetQuery: "DISCARD ALL", resetQueryAlways: false,
            checkQuery: "SELECT 1", checkDelay: 30, connectQuery: nil, startupParameters: [:], roundRobin: false,
            loginRetry: 15))
    }

    func testDatabaseOverridesGlobalAndUserOverridesDatabase() throws {
        let config = try loadConfig(text).config
        let tuned = try XCTUnwrap(config.database(named: "tuned"))
        let bob = config.poolSettings(database: tuned, user: "bob")
        XCTAssertEqual(bob.poolMode, .session)
        XCTAssertEqual(bob.poolSize, 5)
        XCTAssertEqual(bob.minPoolSize, 3)
        XCTAssertEqual(bob.reservePoolSize, 4)
        XCTAssertEqual(bob.maxDBConnections, 100, "0 per database means: not set (as PgBouncer)")
        XCTAssertEqual(bob.serverLifetime, 60, "the database's server_lifetime wins over the global one")
        let alice = config.poolSettings(database: tuned, user: "alice")
        XCTAssertEqual(alice.poolMode, .statement)
        XCTAssertEqual(alice.poolSize, 7)
        XCTAssertEqual(alice.maxUserConnections, 9)
        XCTAssertEqual(alice.queryTimeout, 60, "0 per user means: not set (as PgBouncer)")
        XCTAssertEqual(alice.transactionTimeout, 5)
        XCTAssertEqual(alice.serverDatabase, "real")
        XCTAssertEqual(config.poolSettings(database: tuned, user: "carol").reservePoolSize, 1,
                       "[users] reserve_pool_size wins over the database's")
    }

    func testProtocolLimits() throws {
        let limits = try loadConfig(text).config.protocolLimits
        XCTAssertEqual(limits.maxMessageLength, 65536)
        XCTAssertEqual(limits.maxStartupPacketLength, 4096)
    }
}
