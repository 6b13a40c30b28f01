import NIOPosix
import PGRelayCore
import XCTest
@testable import PGRelayServer

final class AdminMetricsTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!
    var runtime: ProxyRuntime!

    override func setUpWithError() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let text = """
        [pgrelay]
        [databases]
        appdb = host=127.0.0.1 port=5432 replicas=127.0.0.1:5433,127.0.0.1:5434
        solo = host=127.0.0.1 port=5432
        """
        let config = try ConfigLoader.parse(text: text, path: "test.ini").config
        runtime = ProxyRuntime(config: config, secrets: [:], group: group, logger: .init(label: "test"))
    }

    override func tearDownWithError() throws {
        try group.syncShutdownGracefully()
    }

    func testBackendRoutesListPrimaryAndReplicas() {
        let routes = runtime.backendRoutes()
        XCTAssertEqual(routes.map { "\($0.database) \($0.address.port) \($0.role.rawValue)" },
                       ["appdb 5432 primary", "appdb 5433 replica", "appdb 5434 replica", "solo 5432 primary"])
        XCTAssertTrue(routes.allSatisfy(\.isUp), "unchecked and unused backends count as up")
        XCTAssertEqual(runtime.backendHealth().count, 4)
    }

    func testCheckedBackendStatusDecidesUp() {
        let replica = BackendID(database: "appdb", address: BackendAddress(host: "127.0.0.1", port: 5433), role: .replica)
        runtime.routing.update([BackendState(id: replica, status: .down, lastError: "refused", consecutiveFailures: 1)])
        let route = runtime.backendRoutes().first { $0.id == replica }
        XCTAssertEqual(route?.isUp, false)
        XCTAssertEqual(runtime.backendHealth().filter { !$0.up }.map(\.port), [5433])
    }

    func testSampleNamesNeverClashWithTheStatisticsFamilies() {
        var byDatabase = [(database: String, counters: PoolCounters)]()
        byDatabase.append(("appdb", PoolCounters(queries: 3)))
        let samples = AdminMetrics.samples(runtime, .empty) + AdminMetrics.counterSamples(byDatabase)
        XCTAssertFalse(samples.isEmpty)
        for sample in samples {
            XCTAssertFalse(PrometheusExposition.ownFamilies.contains(sample.name), sample.name)
            XCTAssertTrue(sample.name.hasPrefix("pgrelay_"), sample.name)
        }
        // One help text and type per family, or the exposition would be invalid.
        var families: [String: (String, PrometheusMetricType)] = [:]
        for sample in samples {
            if let known = families[sample.name] {
                XCTAssertEqual(known.0, sample.help, sample.name)
                XCTAssertEqual(known.1, sample.type, sample.name)
            }
            families[sample.name] = (sample.help, sample.type)
        }
        let text = PrometheusExposition.render(runtime.stats.snapshot(), extra: samples)
        XCTAssertTrue(text.contains("pgrelay_pool_queries_total{database=\"appdb\"} 3"))
        XCTAssertTrue(text.contains("# TYPE pgrelay_clients gauge"))
    }
}
