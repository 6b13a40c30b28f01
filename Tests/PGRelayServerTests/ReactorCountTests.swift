import NIOCore
import PGRelayCore
import XCTest
@testable import PGRelayServer

/// How many reactors run connections: `workers`, or one per core, or PGRELAY_THREADS.
final class ReactorCountTests: XCTestCase {
    private func config(_ line: String) throws -> Config {
        try ConfigLoader.parse(text: "[pgrelay]\n\(line)\n[databases]\n", path: "t.ini").config
    }

    func testTable() throws {
        let cores = System.coreCount
        let cases: [(line: String, environment: [String: String], expected: Int)] = [
            ("", [:], cores),
            ("workers = 0", [:], cores),
            ("workers = 3", [:], 3),
            ("workers = 3", ["PGRELAY_THREADS": "1"], 1),
            ("", ["PGRELAY_THREADS": "5"], 5),
            // A value that is no positive number is ignored, not taken as zero reactors.
            ("workers = 2", ["PGRELAY_THREADS": "0"], 2),
            ("workers = 2", ["PGRELAY_THREADS": "many"], 2),
        ]
        for testCase in cases {
            XCTAssertEqual(ProxyServer.reactorCount(config: try config(testCase.line), environment: testCase.environment),
                           testCase.expected, "\(testCase.line) \(testCase.environment)")
        }
    }
}
