import NIOCore
import NIOEmbedded
import NIOHTTP1
import PGRelayCore
import XCTest
@testable import PGRelayServer

final class AdminHTTPRoutingTests: XCTestCase {
    func testRouteTable() {
        let cases: [(HTTPMethod, String, Result<AdminEndpoint, AdminRouteError>)] = [
            (.GET, "/health", .success(.health)),
            (.GET, "/health/", .success(.health)),
            (.GET, "/health?verbose=1", .success(.health)),
            (.GET, "/metrics/queries", .success(.queryMetrics)),
            (.GET, "/metrics", .success(.prometheusMetrics)),
            (.GET, "/pools", .success(.listing(.pools))),
            (.GET, "/servers", .success(.listing(.servers))),
            (.GET, "/clients", .success(.listing(.clients))),
            (.GET, "/databases", .success(.listing(.databases))),
            (.GET, "/config", .success(.listing(.config))),
            (.POST, "/reload", .success(.reload)),
            (.POST, "/pause", .success(.pause(database: nil))),
            (.POST, "/pause?db=appdb", .success(.pause(database: "appdb"))),
            (.POST, "/pause?db=", .success(.pause(database: nil))),
            (.POST, "/resume?db=my%20db&db=ignored", .success(.resume(database: "my db"))),
            (.POST, "/resume?x=1&db=a+b", .success(.resume(database: "a b"))),
            (.GET, "/nope", .failure(.notFound(path: "/nope"))),
            (.GET, "/", .success(.dashboard)),
            (.GET, "/?refresh=1", .success(.dashboard)),
            (.POST, "/", .failure(.methodNotAllowed(path: "/", allowed: [.GET]))),
            (.GET, "/metrics/queries/history", .success(.queryHistory)),
            (.GET, "/metrics/queries/history/", .success(.queryHistory)),
            (.GET, "", .failure(.notFound(path: ""))),
            (.GET, "/metrics/queries/extra", .failure(.notFound(path: "/metrics/queries/extra"))),
            (.POST, "/health", .failure(.methodNotAllowed(path: "/health", allowed: [.GET]))),
            (.HEAD, "/metrics", .failure(.methodNotAllowed(path: "/metrics", allowed: [.GET]))),
            (.GET, "/reload", .failure(.methodNotAllowed(path: "/reload", allowed: [.POST]))),
            (.DELETE, "/pause", .failure(.methodNotAllowed(path: "/pause", allowed: [.POST]))),
        ]
        for (method, uri, expected) in cases {
            XCTAssertEqual(AdminRouter.route(method: method, uri: uri), expected, "\(method) \(uri)")
        }
    }

    func testPercentDecodingKeepsMalformedEscapes() {
        let cases: [(String, String)] = [
            ("abc", "abc"), ("a%2Fb", "a/b"), ("%zz", "%zz"), ("%4", "%4"), ("%", "%"), ("%e2%82%ac", "€"),
            ("%ff", "\u{FFFD}"), ("a+b", "a b"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(RequestTarget.percentDecoded(Substring(input), plusIsSpace: true), expected, input)
        }
        XCTAssertEqual(RequestTarget("/p%61th?").path, "/path")
    }

    func testAcceptEncodingTable() {
        let cases: [([String], Bool)] = [
            ([], false),
            (["gzip"], true),
            (["GZIP"], true),
            (["deflate, gzip;q=0.5"], true),
            (["br", "x-gzip"], true),
            (["*"], true),
            (["gzip;q=0"], false),
            (["gzip; q=0.0, identity"], false),
            (["identity"], false),
            (["gzipper"], false),
        ]
        for (values, expected) in cases {
            XCTAssertEqual(ContentNegotiation.acceptsGzip(values), expected, "\(values)")
        }
    }

    func testGzipRoundTripAndCorruptInput() throws {
        let text = Array(String(repeating: "pgrelay admin ", count: 500).utf8)
        let compressed = try XCTUnwrap(Gzip.compress(text))
        XCTAssertEqual(Array(compressed.prefix(2)), [0x1F, 0x8B], "gzip magic")
        XCTAssertLessThan(compressed.count, text.count / 10)
        XCTAssertEqual(Gzip.decompress(compressed), text)
        XCTAssertEqual(Gzip.decompress(try XCTUnwrap(Gzip.compress([]))), [])
        XCTAssertNil(Gzip.decompress(Array(compressed.prefix(20))))
        XCTAssertNil(Gzip.decompress([1, 2, 3, 4]))
        XCTAssertNil(Gzip.decompress(compressed, limit: 100))
    }

    func testResponderMapsCommandErrors() throws {
        let loop = EmbeddedEventLoop()
        let api = FakeAdminAPI(snapshot: snapshot(slow: 0, total: 0), eventLoop: loop)
        let responder = AdminResponder(api: api)
        api.state.withLock { $0.reloadError = AdminAPIError(statusCode: 400, message: "config.ini:3: bad value for key pool_mode") }
        var response = try responder.respond(to: .reload, on: loop).wait()
        XCTAssertEqual(response.status, .badRequest)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "{\"error\":\"config.ini:3: bad value for key pool_mode\"}\n")
        struct Boom: Error {}
        api.state.withLock { $0.reloadError = Boom() }
        response = try responder.respond(to: .reload, on: loop).wait()
        XCTAssertEqual(response.status, .internalServerError)
        response = try responder.respond(to: .pause(database: "appdb"), on: loop).wait()
        XCTAssertEqual(response.status, .ok)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "{\"status\":\"ok\",\"message\":\"PAUSE\"}\n")
        XCTAssertEqual(api.state.withLock { $0.commands }, ["reload", "reload", "pause appdb"])
        XCTAssertEqual(AdminAPIError(statusCode: 200, message: "x").statusCode, 500, "non-error codes are not allowed")
    }

    func testListingRowsHaveSortedKeys() {
        let rows: [[String: AdminValue]] = [["user": .string("app"), "cl_active": .int(3), "avg": .double(1.5), "paused": .bool(false), "x": .null]]
        XCTAssertEqual(AdminResponder.listingJSON(rows).serialized,
                       "[{\"avg\":1.5,\"cl_active\":3,\"paused\":false,\"user\":\"app\",\"x\":null}]")
    }
}
