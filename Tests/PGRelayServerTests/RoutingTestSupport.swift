import Foundation
import Logging
import NIOConcurrencyHelpers
import PGRelayCore
import XCTest

/// The PostgreSQL test cluster, from the environment (`scripts/pg-cluster env DIR`):
/// PGRELAY_TEST_PG_PORT (primary), PGRELAY_TEST_REPLICA_PORTS (comma list), and for stopping
/// replicas PG_CLUSTER_DIR plus the pg-cluster script (PGRELAY_TEST_PG_CLUSTER_SCRIPT, else the
/// package's scripts/pg-cluster).
struct RoutingTestCluster {
    let primaryPort: Int
    let replicaPorts: [Int]

    static func fromEnvironment() throws -> RoutingTestCluster {
        let environment = ProcessInfo.processInfo.environment
        guard let text = environment["PGRELAY_TEST_PG_PORT"], let port = Int(text) else {
            throw XCTSkip("PGRELAY_TEST_PG_PORT is not set: no PostgreSQL to test against")
        }
        let replicas = (environment["PGRELAY_TEST_REPLICA_PORTS"] ?? "").split(separator: ",").compactMap { Int($0) }
        return RoutingTestCluster(primaryPort: port, replicaPorts: replicas)
    }

    func requireReplicas(_ count: Int) throws {
        guard replicaPorts.count >= count else {
            throw XCTSkip("PGRELAY_TEST_REPLICA_PORTS lists fewer than \(count) replicas")
        }
    }

    /// Runs `pg-cluster <command> DIR <replica>`; skips when the script or directory is unknown.
    func clusterCommand(_ command: String, replica: Int) throws {
        let environment = ProcessInfo.processInfo.environment
        guard let directory = environment["PG_CLUSTER_DIR"] else {
            throw XCTSkip("PG_CLUSTER_DIR is not set: cannot stop and start replicas")
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = environment["PGRELAY_TEST_PG_CLUSTER_SCRIPT"] ?? packageRoot.appendingPathComponent("scripts/pg-cluster").path
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw XCTSkip("no pg-cluster script at \(script)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [command, directory, String(replica)]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "pg-cluster \(command) failed")
    }
}

/// Collects log records for assertions.
final class CapturedLogs: @unchecked Sendable {
    struct Record {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let records = NIOLockedValueBox<[Record]>([])

    var all: [Record] { records.withLockedValue { $0 } }

    func append(_ record: Record) {
        records.withLockedValue { $0.append(record) }
    }

    func logger() -> Logger {
        var logger = Logger(label: "test") { _ in CapturingLogHandler(sink: self) }
        logger.logLevel = .debug
        return logger
    }
}

private struct CapturingLogHandler: LogHandler {
    let sink: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        sink.append(.init(level: level, message: message.description, metadata: self.metadata.merging(metadata ?? [:]) { $1 }))
    }
}
