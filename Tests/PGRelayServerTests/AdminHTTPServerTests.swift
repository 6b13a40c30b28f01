import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import PGRelayCore
import XCTest
@testable import PGRelayServer

final class AdminHTTPServerTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var api: FakeAdminAPI!
    private var server: AdminHTTPServer!
    private var port = 0

    override func setUpWithError() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        api = FakeAdminAPI(snapshot: snapshot(slow: 2, total: 100), eventLoop: group.next())
        api.state.withLock {
            $0.backends = [BackendHealth(database: "appdb", host: "127.0.0.1", port: 5433, role: "replica", up: false)]
            $0.listings[.pools] = [["database": .string("appdb"), "cl_active": .int(2)]]
            $0.samples = [PrometheusSample(name: "pgrelay_clients", help: "Connected clients.", type: .gauge, value: 4)]
        }
        server = AdminHTTPServer(group: group, host: "127.0.0.1", port: 0, api: api)
        try server.start().wait()
        port = try XCTUnwrap(server.localPort)
    }

    override func tearDownWithError() throws {
        try server?.stop().wait()
        try group?.syncShutdownGracefully()
    }

    private func client() throws -> TestHTTPClient {
        try TestHTTPClient(group: group, port: port)
    }

    private func json(_ response: ReceivedResponse) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func testHealthIs200WhenHealthyOrDegradedAnd503WhenUnhealthy() throws {
        let connection = try client()
        defer { connection.close() }
        for (slow, status, code) in [(2, "healthy", 200), (7, "degraded", 200), (20, "unhealthy", 503)] {
            api.state.withLock { $0.snapshot = snapshot(slow: slow, total: 100) }
            let response = try connection.request(.GET, "/health")
            XCTAssertEqual(Int(response.head.status.code), code, status)
            XCTAssertEqual(response.head.headers["Content-Type"].first, "application/json; charset=utf-8")
            let body = try json(response)
            XCTAssertEqual(body["status"] as? String, status)
            let backends = try XCTUnwrap(body["backends"] as? [[String: Any]])
            XCTAssertEqual(backends.first?["up"] as? Bool, false)
        }
        XCTAssertTrue(connection.isActive, "keep-alive: three requests on one connection")
    }

    func testQueryMetricsListingsAndPrometheus() throws {
        let connection = try client()
        defer { connection.close() }
        let queries = try json(try connection.request(.GET, "/metrics/queries"))
        XCTAssertEqual(queries["total"] as? Int, 100)
        XCTAssertEqual(queries["slow"] as? Int, 2)
        XCTAssertNotNil(queries["top_slow"] as? [Any])

        let pools = try connection.request(.GET, "/pools")
        XCTAssertEqual(pools.head.status, .ok)
        XCTAssertEqual(pools.text, "[{\"cl_active\":2,\"database\":\"appdb\"}]\n")
        XCTAssertEqual(try connection.request(.GET, "/clients").text, "[]\n")

        let metrics = try connection.request(.GET, "/metrics")
        XCTAssertEqual(metrics.head.status, .ok)
        XCTAssertEqual(metrics.head.headers["Content-Type"].first, "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertTrue(metrics.text.contains("# TYPE pgrelay_query_duration_seconds histogram\n"))
        XCTAssertTrue(metrics.text.contains("\npgrelay_clients 4\n"))
        XCTAssertTrue(metrics.text.contains("\npgrelay_health_status 0\n"))
    }

    func testDashboardIsOneSelfContainedPageRenderedWithoutJavaScript() throws {
        let registry = QueryStatsRegistry(shardCount: 1, settings: StatsSettings(), clock: { 1_000_000_000 })
        for index in 0 ..< 20 {
            registry.shard(at: 0).record(QuerySample(durationNanos: index < 3 ? 250_000_000 : 1_000_000, database: "appdb",
                                                     user: "app", route: .primary, fingerprint: "SELECT '<b>' < $1"))
        }
        api.state.withLock {
            $0.snapshot = registry.snapshot()
            $0.listings[.pools] = [["database": .string("appdb"), "user": .string("app"), "cl_active": .int(3),
                                    "cl_waiting": .int(2), "pool_mode": .string("transaction")]]
        }
        let connection = try client()
        defer { connection.close() }
        let page = try connection.request(.GET, "/")
        XCTAssertEqual(page.head.status, .ok)
        XCTAssertEqual(page.head.headers["Content-Type"].first, "text/html; charset=utf-8")
        XCTAssertTrue(page.head.headers["Content-Security-Policy"].first?.contains("default-src 'none'") ?? false)
        let html = page.text
        XCTAssertTrue(html.contains("<span id=\"status-word\" class=\"badge unhealthy\">unhealthy</span>"), "3 of 20 slow: unhealthy")
        XCTAssertTrue(html.contains("3 of 20 queries slower than 100 ms"), "the reason for the status")
        XCTAssertTrue(html.contains("127.0.0.1:5433 (appdb, replica) is down"), "down backends are named")
        XCTAssertTrue(html.contains("<code>SELECT &#39;&lt;b&gt;&#39; &lt; $1</code>"), "fingerprints are escaped")
        XCTAssertFalse(html.contains("<b>"), "nothing of a statement reaches the page unescaped")
        XCTAssertTrue(html.contains("<tr class=\"waiting\">"), "a pool with waiting clients stands out")
        XCTAssertTrue(html.contains("id=\"chart\""))
        for external in ["src=\"http", "href=\"http", "@import", "url("] {
            XCTAssertFalse(html.contains(external), "loads nothing from elsewhere: \(external)")
        }
        XCTAssertEqual(try connection.request(.POST, "/").head.status, .methodNotAllowed)
    }

    func testHistoryDocumentComesFromTheAPI() throws {
        let summary = LatencySummary(count: 4, slow: 1, errors: 0, minMs: 1, avgMs: 2, maxMs: 9, p50Ms: 1, p90Ms: 3, p95Ms: 5, p99Ms: 9)
        api.state.withLock {
            $0.history = [QueryHistoryPoint(endUnixSeconds: 1000, seconds: 10, overall: summary, byRoute: [.primary: summary],
                                            byDatabase: ["appdb": summary])]
        }
        let connection = try client()
        defer { connection.close() }
        let body = try json(try connection.request(.GET, "/metrics/queries/history"))
        let points = try XCTUnwrap(body["points"] as? [[String: Any]])
        XCTAssertEqual(points.count, 1)
        XCTAssertEqual(points.first?["total"] as? Int, 4)
        XCTAssertEqual(body["interval_s"] as? Double, 10)
    }

    func testNotFoundAndMethodNotAllowed() throws {
        let connection = try client()
        defer { connection.close() }
        let missing = try connection.request(.GET, "/nope?x=1")
        XCTAssertEqual(missing.head.status, .notFound)
        XCTAssertEqual(missing.text, "{\"error\":\"not found\",\"path\":\"/nope\"}\n")
        let wrongMethod = try connection.request(.POST, "/health")
        XCTAssertEqual(wrongMethod.head.status, .methodNotAllowed)
        XCTAssertEqual(wrongMethod.head.headers["Allow"].first, "GET")
        XCTAssertEqual(try json(wrongMethod)["error"] as? String, "method not allowed")
        XCTAssertEqual(try connection.request(.GET, "/reload").head.status, .methodNotAllowed)
        XCTAssertTrue(connection.isActive)
    }

    func testCommandsReachTheAPI() throws {
        let connection = try client()
        defer { connection.close() }
        XCTAssertEqual(try connection.request(.POST, "/pause?db=appdb").head.status, .ok)
        XCTAssertEqual(try connection.request(.POST, "/resume").head.status, .ok)
        api.state.withLock { $0.reloadError = AdminAPIError(statusCode: 422, message: "invalid config") }
        let reload = try connection.request(.POST, "/reload")
        XCTAssertEqual(reload.head.status.code, 422)
        XCTAssertEqual(try json(reload)["error"] as? String, "invalid config")
        XCTAssertEqual(api.state.withLock { $0.commands }, ["pause appdb", "resume *", "reload"])
    }

    func testGzipWhenAcceptedAndLarge() throws {
        api.state.withLock { $0.snapshot = snapshot(slow: 5, total: 400, databases: (0 ..< 40).map { "database_\($0)" }) }
        let connection = try client()
        defer { connection.close() }
        let plain = try connection.request(.GET, "/metrics/queries")
        XCTAssertGreaterThan(plain.body.count, 1024)
        XCTAssertNil(plain.head.headers["Content-Encoding"].first)
        let zipped = try connection.request(.GET, "/metrics/queries", headers: [("Accept-Encoding", "deflate, gzip")])
        XCTAssertEqual(zipped.head.headers["Content-Encoding"].first, "gzip")
        XCTAssertEqual(zipped.head.headers["Vary"].first, "Accept-Encoding")
        XCTAssertEqual(zipped.head.headers["Content-Length"].first, String(zipped.body.count))
        XCTAssertLessThan(zipped.body.count, plain.body.count)
        XCTAssertEqual(Gzip.decompress(zipped.body), plain.body)
        let refused = try connection.request(.GET, "/metrics/queries", headers: [("Accept-Encoding", "gzip;q=0")])
        XCTAssertNil(refused.head.headers["Content-Encoding"].first)
        // Small bodies stay uncompressed even when gzip is welcome.
        let small = try connection.request(.GET, "/nope", headers: [("Accept-Encoding", "gzip")])
        XCTAssertNil(small.head.headers["Content-Encoding"].first)
    }

    func testOversizedBodyGets413AndTheConnectionCloses() throws {
        let connection = try client()
        let response = try connection.request(.POST, "/reload", body: [UInt8](repeating: 0x61, count: 70 * 1024))
        XCTAssertEqual(response.head.status, .payloadTooLarge)
        XCTAssertEqual(response.head.headers["Connection"].first, "close")
        XCTAssertNoThrow(try connection.waitUntilClosed())
        XCTAssertEqual(api.state.withLock { $0.commands }, [], "the command never ran")
    }

    func testConnectionCloseIsHonoured() throws {
        let connection = try client()
        let response = try connection.request(.GET, "/health", headers: [("Connection", "close")])
        XCTAssertEqual(response.head.status, .ok)
        XCTAssertNoThrow(try connection.waitUntilClosed())
    }

    func testMalformedRequestGets400() throws {
        let raw = try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait()
        defer { try? raw.close().wait() }
        try raw.writeAndFlush(raw.allocator.buffer(string: "NOT HTTP AT ALL\r\n\r\n")).wait()
        // NIO's error handler answers 400, the connection closes at once (not after the idle
        // timeout), and the server keeps serving others.
        let started = NIODeadline.now()
        XCTAssertNoThrow(try raw.closeFuture.waitWithin(.seconds(20), on: raw.eventLoop))
        XCTAssertLessThan(NIODeadline.now() - started, .seconds(5))
        let connection = try client()
        defer { connection.close() }
        XCTAssertEqual(try connection.request(.GET, "/health").head.status, .ok)
    }

    func testBindErrorIsSurfacedAndStopIsIdempotent() throws {
        XCTAssertThrowsError(try server.start().wait(), "already started")
        XCTAssertEqual(server.localPort, port)
        let clash = AdminHTTPServer(group: group, host: "127.0.0.1", port: port, api: api)
        XCTAssertThrowsError(try clash.start().wait())
        XCTAssertNil(clash.localPort)
        XCTAssertNoThrow(try clash.stop().wait())
        // An address no interface has (TEST-NET-1): bind fails without asking DNS, which a CI
        // machine without a network may answer only after a long wait.
        let badHost = AdminHTTPServer(group: group, host: "192.0.2.1", port: 0, api: api)
        XCTAssertThrowsError(try badHost.start().wait())
    }

    func testConnectionsBeyondTheLimitAreClosed() throws {
        let limited = AdminHTTPServer(group: group, host: "127.0.0.1", port: 0, api: api, maxConnections: 1)
        try limited.start().wait()
        defer { try? limited.stop().wait() }
        let limitedPort = try XCTUnwrap(limited.localPort)
        let first = try TestHTTPClient(group: group, port: limitedPort)
        defer { first.close() }
        XCTAssertEqual(try first.request(.GET, "/health").head.status, .ok)
        let second = try TestHTTPClient(group: group, port: limitedPort)
        XCTAssertNoThrow(try second.waitUntilClosed(), "refused by closing")
        first.close()
        // The slot frees up once the first connection is gone.
        var served = false
        for _ in 0 ..< 50 where !served {
            if let third = try? TestHTTPClient(group: group, port: limitedPort) {
                served = (try? third.request(.GET, "/health").head.status) == .ok
                third.close()
            }
            if !served { Thread.sleep(forTimeInterval: 0.02) }
        }
        XCTAssertTrue(served)
    }

    func testStopClosesOpenConnections() throws {
        let connection = try client()
        XCTAssertEqual(try connection.request(.GET, "/health").head.status, .ok)
        try server.stop().wait()
        XCTAssertNoThrow(try connection.waitUntilClosed())
        XCTAssertNil(server.localPort)
        XCTAssertThrowsError(try TestHTTPClient(group: group, port: port), "no longer listening")
    }
}
