import Foundation
import NIOCore
import NIOPosix
import PGRelayCore
import PGRelayServer
import XCTest

final class RoutingInternalQueryClientTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!

    override func setUp() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    override func tearDown() {
        try? group.syncShutdownGracefully()
    }

    private var client: InternalQueryClient { InternalQueryClient(group: group) }

    private func queryError(_ future: EventLoopFuture<QueryResult>, file: StaticString = #filePath, line: UInt = #line) -> InternalQueryError? {
        do {
            _ = try future.wait()
            XCTFail("query succeeded", file: file, line: line)
            return nil
        } catch let error as InternalQueryError {
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    // MARK: without PostgreSQL

    func testConnectRefused() throws {
        // Bind and close a socket to get a port nobody listens on.
        let server = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = try XCTUnwrap(server.localAddress?.port)
        try server.close().wait()
        let error = queryError(client.query("SELECT 1", address: BackendAddress(host: "127.0.0.1", port: port), database: "db",
                                            credentials: ServerCredentials(user: "u", password: "p"), timeout: .seconds(2)))
        guard case .connectFailed? = error else { return XCTFail("\(String(describing: error))") }
    }

    func testSilentServerTimesOut() throws {
        // Accepts, reads, never answers: the exchange must end at the timeout, not hang.
        let server = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try XCTUnwrap(server.localAddress?.port)
        let started = NIODeadline.now()
        let error = queryError(client.query("SELECT 1", address: BackendAddress(host: "127.0.0.1", port: port), database: "db",
                                            credentials: ServerCredentials(user: "u", password: "p"), timeout: .milliseconds(300)))
        guard case .timedOut? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertLessThan(NIODeadline.now() - started, .seconds(3))
    }

    func testInvalidRequestFailsBeforeConnecting() {
        let error = queryError(client.query("SELECT $1", parameters: ["a\0"], address: BackendAddress(host: "127.0.0.1", port: 1),
                                            database: "db", credentials: ServerCredentials(user: "u"), timeout: .seconds(1)))
        guard case .invalidRequest? = error else { return XCTFail("\(String(describing: error))") }
    }

    // MARK: with PostgreSQL (PGRELAY_TEST_PG_PORT)

    private func primary() throws -> BackendAddress {
        BackendAddress(host: "127.0.0.1", port: try RoutingTestCluster.fromEnvironment().primaryPort)
    }

    func testParametersTravelApartFromTheSQL() throws {
        let tricky = "x'; DROP TABLE t; -- $1 \u{00e9}"
        let result = try client.query("SELECT $1::text AS v, $2::int AS n, current_user AS u", parameters: [tricky, nil],
                                      address: try primary(), database: "appdb",
                                      credentials: ServerCredentials(user: "app", password: "app"), timeout: .seconds(5)).wait()
        XCTAssertEqual(result.columns, ["v", "n", "u"])
        XCTAssertEqual(result.rows, [[tricky, nil, "app"]])
        XCTAssertEqual(result.commandTag, "SELECT 1")
    }

    func testAuthQueryShapeAsSuperuserWithSCRAM() throws {
        let result = try client.query("SELECT rolname, rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1 AND rolcanlogin",
                                      parameters: ["app"], address: try primary(), database: "postgres",
                                      credentials: ServerCredentials(user: "admin", password: "admin"), timeout: .seconds(5)).wait()
        XCTAssertEqual(result.rows.count, 1)
        XCTAssertEqual(result.value(row: 0, column: "rolname"), "app")
        XCTAssertEqual(result.value(row: 0, column: "rolpassword")?.hasPrefix("SCRAM-SHA-256$"), true)
        let none = try client.query("SELECT rolname FROM pg_catalog.pg_authid WHERE rolname = $1", parameters: ["app' OR '1'='1"],
                                    address: try primary(), database: "postgres",
                                    credentials: ServerCredentials(user: "admin", password: "admin"), timeout: .seconds(5)).wait()
        XCTAssertEqual(none.rows.count, 0)
    }

    func testUnixSocketWithTrustAuthentication() throws {
        let port = try RoutingTestCluster.fromEnvironment().primaryPort
        guard let directory = ProcessInfo.processInfo.environment["PG_CLUSTER_SOCKET_DIR"] else {
            throw XCTSkip("PG_CLUSTER_SOCKET_DIR is not set")
        }
        let result = try client.query("SELECT current_user AS u, inet_server_port() AS p", address: BackendAddress(host: directory, port: port),
                                      database: "appdb", credentials: ServerCredentials(user: "app"), timeout: .seconds(5)).wait()
        XCTAssertEqual(result.rows, [["app", nil]], "a Unix-socket session has no server port")
    }

    func testMD5Login() throws {
        let result = try client.query("SELECT 1 AS one", address: try primary(), database: "appdb",
                                      credentials: ServerCredentials(user: "md5user", password: "md5pass"), timeout: .seconds(5)).wait()
        XCTAssertEqual(result.rows, [["1"]])
    }

    func testWrongPasswordIsALoginError() throws {
        let error = queryError(client.query("SELECT 1", address: try primary(), database: "appdb",
                                            credentials: ServerCredentials(user: "app", password: "wrong"), timeout: .seconds(5)))
        XCTAssertEqual(error?.serverError?.sqlState, "28P01")
        guard case .loginFailed? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertFalse(error?.description.contains("wrong") ?? true, "no password in the error")
    }

    func testSQLErrorCarriesTheServerFields() throws {
        let error = queryError(client.query("SELECT * FROM no_such_table WHERE a = $1", parameters: ["1"], address: try primary(),
                                            database: "appdb", credentials: ServerCredentials(user: "app", password: "app"),
                                            timeout: .seconds(5)))
        guard case .queryFailed(let fields)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(fields.sqlState, "42P01")
        XCTAssertTrue(fields.message.contains("no_such_table"))
    }

    func testRowLimit() throws {
        let error = queryError(client.query("SELECT generate_series(1, 5)", address: try primary(), database: "appdb",
                                            credentials: ServerCredentials(user: "app", password: "app"), timeout: .seconds(5), maxRows: 3))
        XCTAssertEqual(error, .tooManyRows(limit: 3))
    }
}
