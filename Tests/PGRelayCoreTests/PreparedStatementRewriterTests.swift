import NIOCore
@testable import PGRelayCore
import PGWire
import XCTest

/// Client frames and server answers as bytes, for the prepared-statement relay tests.
enum PG {
    // Frontend.
    static func parse(_ name: String, _ query: String, types: [Int] = []) -> [UInt8] {
        SessionWire.message("P", SessionWire.text("\(name)\0\(query)\0") + [0, UInt8(types.count)] + types.flatMap(SessionWire.int32))
    }
    /// Bind with one text parameter "7" and no result formats.
    static func bind(_ portal: String, _ statement: String) -> [UInt8] {
        SessionWire.message("B", SessionWire.text("\(portal)\0\(statement)\0") + [0, 0, 0, 1, 0, 0, 0, 1, 0x37, 0, 0])
    }
    static func describeStatement(_ name: String) -> [UInt8] { SessionWire.message("D", [0x53] + SessionWire.text("\(name)\0")) }
    static func describePortal(_ name: String) -> [UInt8] { SessionWire.message("D", [0x50] + SessionWire.text("\(name)\0")) }
    static func closeStatement(_ name: String) -> [UInt8] { SessionWire.message("C", [0x53] + SessionWire.text("\(name)\0")) }
    static func closePortal(_ name: String) -> [UInt8] { SessionWire.message("C", [0x50] + SessionWire.text("\(name)\0")) }
    static func execute(_ portal: String = "") -> [UInt8] { SessionWire.message("E", SessionWire.text("\(portal)\0") + [0, 0, 0, 0]) }
    static func query(_ sql: String) -> [UInt8] { SessionWire.message("Q", SessionWire.text("\(sql)\0")) }
    static let sync: [UInt8] = [0x53, 0, 0, 0, 4]
    static let flush: [UInt8] = [0x48, 0, 0, 0, 4]

    // Backend.
    static let parseComplete: [UInt8] = [0x31, 0, 0, 0, 4]
    static let bindComplete: [UInt8] = [0x32, 0, 0, 0, 4]
    static let closeComplete: [UInt8] = [0x33, 0, 0, 0, 4]
    static let noData: [UInt8] = [0x6E, 0, 0, 0, 4]
    /// ParameterDescription with one int4 parameter.
    static let parameterDescription: [UInt8] = [0x74, 0, 0, 0, 10, 0, 1, 0, 0, 0, 23]
    /// RowDescription of one int4 column "x".
    static let rowDescription: [UInt8] = SessionWire.message("T", [0, 1] + SessionWire.text("x\0") + [0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0])
    static let dataRow: [UInt8] = SessionWire.message("D", [0, 1, 0, 0, 0, 1, 0x37])
    static func commandComplete(_ tag: String) -> [UInt8] { SessionWire.message("C", SessionWire.text("\(tag)\0")) }
    static func ready(_ status: Character) -> [UInt8] { [0x5A, 0, 0, 0, 5, status.asciiValue!] }
    static func error(_ sqlState: String, _ message: String) -> [UInt8] {
        SessionWire.message("E", SessionWire.text("SERROR\0VERROR\0C\(sqlState)\0M\(message)\0\0"))
    }
    static let notice: [UInt8] = SessionWire.message("N", SessionWire.text("SNOTICE\0VNOTICE\0C00000\0Mhi\0\0"))
}

/// One client session holding one server, wired as the client session wires them: client frames
/// go through the rewriter (made-up answers due at once are written after the batch), server
/// messages through the pipeline (failed statements leave the server's cache).
struct RelayHarness {
    var rewriter = PreparedStatementRewriter()
    var cache: ServerStatementCache
    var pipeline = ResponsePipeline()
    /// Statement names shared by every client of the proxy: one per (query, types).
    var serverNames: [String: String] = [:]
    var failed: [String] = []
    var fakeReadies = 0

    init(capacity: Int = 16) {
        cache = ServerStatementCache(capacity: capacity)
    }

    /// The same client moving to another server (the statement names stay shared).
    mutating func switchServer(to other: ServerStatementCache) {
        cache = other
        pipeline = ResponsePipeline()
    }

    /// Feeds client frames; returns what goes to the server and what the client gets at once.
    mutating func client(_ bytes: [UInt8]...) throws -> (server: [UInt8], client: [UInt8]) {
        var toServer: [UInt8] = []
        for frame in SessionWire.frames(bytes.flatMap { $0 }) {
            var names = serverNames
            let outcome = try rewriter.handle(frame, cache: &cache, pipeline: &pipeline) { query, types in
                let key = "\(query)\u{0}\(types)"
                if let name = names[key] { return name }
                let name = "pgrelay_\(names.count + 1)"
                names[key] = name
                return name
            }
            serverNames = names
            switch outcome {
            case .passThrough: toServer += SessionWire.bytes(frame.bytes)
            case .rewritten(let bytes): toServer += SessionWire.bytes(bytes)
            }
        }
        return (toServer, drain())
    }

    /// What the client gets right away when the proxy answers itself (e.g. DEALLOCATE).
    mutating func drain() -> [UInt8] {
        var out = ByteBuffer()
        pipeline.drainFakes(into: &out)
        fakeReadies += pipeline.takeFakeReadies()
        return SessionWire.bytes(out)
    }

    /// Feeds server messages; returns what the client sees.
    mutating func server(_ bytes: [UInt8]...) -> [UInt8] {
        var toClient: [UInt8] = []
        for frame in SessionWire.frames(bytes.flatMap { $0 }) {
            var status: TransactionStatus?
            if frame.type == BackendType.readyForQuery {
                status = frame.body.getInteger(at: frame.body.readerIndex, as: UInt8.self).flatMap(TransactionStatus.init(rawValue:))
            }
            var fakes = ByteBuffer()
            let disposition = pipeline.serverMessage(frame.type, status: status, fakesAfter: &fakes)
            for name in pipeline.takeFailedStatements() {
                failed.append(name)
                cache.remove(name)
            }
            if disposition == .forward { toClient += SessionWire.bytes(frame.bytes) }
            toClient += SessionWire.bytes(fakes)
            fakeReadies += pipeline.takeFakeReadies()
        }
        return toClient
    }
}

final class PreparedStatementRewriterTests: XCTestCase {
    func testUnnamedStatementsAndPortalsPassThroughUntouched() throws {
        var relay = RelayHarness()
        let batch = PG.parse("", "SELECT $1", types: [23]) + PG.bind("", "") + PG.describePortal("") + PG.execute()
            + PG.describeStatement("") + PG.closeStatement("") + PG.closePortal("") + PG.sync
        let sent = try relay.client(batch)
        XCTAssertEqual(sent.server, batch)
        XCTAssertEqual(sent.client, [])
        let answers = PG.parseComplete + PG.bindComplete + PG.rowDescription + PG.dataRow + PG.commandComplete("SELECT 1")
            + PG.parameterDescription + PG.noData + PG.closeComplete + PG.closeComplete + PG.ready("I")
        XCTAssertEqual(relay.server(answers), answers)
        XCTAssertTrue(relay.pipeline.isEmpty)
        XCTAssertEqual(relay.cache.count, 0)
        XCTAssertTrue(relay.rewriter.statements.isEmpty)
    }

    func testParseOnAFreshServerIsRenamedAndItsAnswerForwarded() throws {
        var relay = RelayHarness()
        let sent = try relay.client(PG.parse("s1", "SELECT $1", types: [23]), PG.sync)
        XCTAssertEqual(sent.server, PG.parse("pgrelay_1", "SELECT $1", types: [23]) + PG.sync)
        XCTAssertEqual(sent.client, [])
        XCTAssertEqual(relay.server(PG.parseComplete, PG.ready("I")), PG.parseComplete + PG.ready("I"))
        XCTAssertTrue(relay.cache.contains("pgrelay_1"))
        XCTAssertEqual(relay.rewriter.statements["s1"]?.serverName, "pgrelay_1")
        XCTAssertTrue(relay.pipeline.isEmpty)
    }

    func testParseOnAServerThatHasItIsAnsweredByTheProxyInOrder() throws {
        var first = RelayHarness()
        _ = try first.client(PG.parse("a", "SELECT 1"), PG.sync)
        _ = first.server(PG.parseComplete, PG.ready("I"))

        // Another client, same text, same server: nothing goes to the server for the Parse.
        var second = RelayHarness()
        second.serverNames = first.serverNames
        second.switchServer(to: first.cache)
        let alone = try second.client(PG.parse("b", "SELECT 1"))
        XCTAssertEqual(alone.server, [])
        XCTAssertEqual(alone.client, PG.parseComplete, "nothing is outstanding: the ParseComplete is due at once")

        // Behind a query still running, the made-up ParseComplete waits for the query's answers.
        let sent = try second.client(PG.query("SELECT 7"), PG.parse("c", "SELECT 1"), PG.bind("", "c"), PG.execute(), PG.sync)
        XCTAssertEqual(sent.server, PG.query("SELECT 7") + PG.bind("", "pgrelay_1") + PG.execute() + PG.sync)
        XCTAssertEqual(sent.client, [])
        XCTAssertEqual(second.server(PG.rowDescription, PG.dataRow, PG.commandComplete("SELECT 1"), PG.ready("I")),
                       PG.rowDescription + PG.dataRow + PG.commandComplete("SELECT 1") + PG.ready("I") + PG.parseComplete)
        XCTAssertEqual(second.server(PG.bindComplete, PG.dataRow, PG.commandComplete("SELECT 1"), PG.ready("I")),
                       PG.bindComplete + PG.dataRow + PG.commandComplete("SELECT 1") + PG.ready("I"))
        XCTAssertTrue(second.pipeline.isEmpty)
    }

    /// server_parse_count: a Parse goes to a server once per server and statement, whether the
    /// client's Parse or its Bind on another server sends it.
    func testServerParsesCountWhatReachesAServer() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT 1"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("I"))
        XCTAssertEqual(relay.rewriter.serverParses, 1)
        _ = try relay.client(PG.bind("", "s1"), PG.execute(), PG.sync)
        _ = relay.server(PG.bindComplete, PG.dataRow, PG.commandComplete("SELECT 1"), PG.ready("I"))
        XCTAssertEqual(relay.rewriter.serverParses, 1, "the server has it: the Bind is only renamed")
        _ = try relay.client(PG.parse("s2", "SELECT 1"))
        XCTAssertEqual(relay.rewriter.serverParses, 1, "same text: the proxy answers the Parse itself")
        relay.switchServer(to: ServerStatementCache(capacity: 16))
        _ = try relay.client(PG.bind("", "s1"), PG.execute(), PG.sync)
        XCTAssertEqual(relay.rewriter.serverParses, 2, "another server: prepared there before the Bind")
    }

    func testBindOnAServerLackingTheStatementInjectsAParseWhoseAnswerIsDropped() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT $1", types: [23]), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("I"))

        relay.switchServer(to: ServerStatementCache(capacity: 16))
        let sent = try relay.client(PG.bind("", "s1"), PG.execute(), PG.sync)
        XCTAssertEqual(sent.server, PG.parse("pgrelay_1", "SELECT $1", types: [23]) + PG.bind("", "pgrelay_1") + PG.execute() + PG.sync)
        XCTAssertEqual(relay.server(PG.parseComplete, PG.bindComplete, PG.dataRow, PG.commandComplete("SELECT 1"), PG.ready("I")),
                       PG.bindComplete + PG.dataRow + PG.commandComplete("SELECT 1") + PG.ready("I"))
        XCTAssertTrue(relay.cache.contains("pgrelay_1"))

        // Now the server has it: a second Bind is only renamed.
        XCTAssertEqual(try relay.client(PG.bind("p1", "s1"), PG.sync).server, PG.bind("p1", "pgrelay_1") + PG.sync)
    }

    /// Binds are renamed from their bytes: the portal name and every parameter byte reach the
    /// server as the client sent them, and a name prepared again under other text is bound to its
    /// new server statement from the next Bind on.
    func testBindIsRenamedByteForByteAndFollowsRedefinitions() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT $1", types: [23]), PG.parse("statement_with_a_long_name", "SELECT 2"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.parseComplete, PG.ready("I"))

        let values: [UInt8] = [0, 2, 0, 1, 0, 0] + [0, 3] + [0xFF, 0xFF, 0xFF, 0xFF] + [0, 0, 0, 2, 0xC3, 0xA9]
            + [0, 0, 0, 0] + [0, 1, 0, 1]
        let bind = { (portal: String, statement: String) in SessionWire.message("B", SessionWire.text("\(portal)\0\(statement)\0") + values) }
        for _ in 0..<3 {
            XCTAssertEqual(try relay.client(bind("c1", "s1")).server, bind("c1", "pgrelay_1"))
            XCTAssertEqual(try relay.client(bind("", "statement_with_a_long_name")).server, bind("", "pgrelay_2"))
        }
        XCTAssertEqual(try relay.client(bind("", "unknown")).server, bind("", "unknown"), "the server reports an unknown name")
        // A portal name that is not UTF-8 reaches the server byte for byte (a decode would repair it).
        let oddPortal = SessionWire.message("B", [0x63, 0x84, 0] + SessionWire.text("s1\0") + values)
        XCTAssertEqual(try relay.client(oddPortal).server, SessionWire.message("B", [0x63, 0x84, 0] + SessionWire.text("pgrelay_1\0") + values))
        _ = try relay.client(PG.sync)
        let answers = Array(repeating: PG.bindComplete, count: 6).flatMap { $0 } + PG.error("26000", "unknown") + PG.ready("I")
        XCTAssertEqual(relay.server(answers), answers, "an error skips the rest of the batch")

        // s1 bound last, then closed and prepared again under other text.
        XCTAssertEqual(try relay.client(bind("", "s1"), PG.sync).server, bind("", "pgrelay_1") + PG.sync)
        _ = relay.server(PG.bindComplete, PG.ready("I"))
        _ = try relay.client(PG.closeStatement("s1"), PG.parse("s1", "SELECT 3"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("I"))
        XCTAssertEqual(try relay.client(bind("", "s1"), PG.sync).server, bind("", "pgrelay_3") + PG.sync)
        _ = relay.server(PG.bindComplete, PG.ready("I"))
        XCTAssertTrue(relay.rewriter.deallocate(.all, pipeline: &relay.pipeline))
        _ = relay.drain()
        XCTAssertEqual(try relay.client(bind("", "s1")).server, bind("", "s1"), "forgotten: the server reports it")
    }

    func testDescribeStatement() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT $1", types: [23]), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("I"))

        XCTAssertEqual(try relay.client(PG.describeStatement("s1"), PG.sync).server, PG.describeStatement("pgrelay_1") + PG.sync)
        XCTAssertEqual(relay.server(PG.parameterDescription, PG.rowDescription, PG.ready("I")),
                       PG.parameterDescription + PG.rowDescription + PG.ready("I"))

        relay.switchServer(to: ServerStatementCache(capacity: 16))
        let sent = try relay.client(PG.describeStatement("s1"), PG.sync)
        XCTAssertEqual(sent.server, PG.parse("pgrelay_1", "SELECT $1", types: [23]) + PG.describeStatement("pgrelay_1") + PG.sync)
        XCTAssertEqual(relay.server(PG.parseComplete, PG.parameterDescription, PG.noData, PG.ready("I")),
                       PG.parameterDescription + PG.noData + PG.ready("I"))
    }

    func testCloseStatementIsAnsweredByTheProxyInOrderAndTheServerKeepsItsCopy() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT 1"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("I"))

        let sent = try relay.client(PG.bind("", "s1"), PG.execute(), PG.closeStatement("s1"), PG.sync)
        XCTAssertEqual(sent.server, PG.bind("", "pgrelay_1") + PG.execute() + PG.sync)
        XCTAssertEqual(sent.client, [], "the CloseComplete waits for the Bind and Execute answers")
        XCTAssertEqual(relay.server(PG.bindComplete, PG.commandComplete("SELECT 1"), PG.ready("I")),
                       PG.bindComplete + PG.commandComplete("SELECT 1") + PG.closeComplete + PG.ready("I"))
        XCTAssertNil(relay.rewriter.statements["s1"])
        XCTAssertTrue(relay.cache.contains("pgrelay_1"), "other clients may use the server's copy")

        // The client no longer knows s1: its Bind goes out as it is and the server says so.
        XCTAssertEqual(try relay.client(PG.bind("", "s1"), PG.sync).server, PG.bind("", "s1") + PG.sync)
        let notFound = PG.error("26000", "prepared statement \"s1\" does not exist")
        XCTAssertEqual(relay.server(notFound, PG.ready("I")), notFound + PG.ready("I"))

        // Closing a name that never existed is no error in PostgreSQL either.
        let never = try relay.client(PG.closeStatement("never"), PG.sync)
        XCTAssertEqual(never.server, PG.sync)
        XCTAssertEqual(never.client, PG.closeComplete, "nothing is outstanding: due at once")
        XCTAssertEqual(relay.server(PG.ready("I")), PG.ready("I"))
    }

    func testDeallocate() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT 1"), PG.parse("s2", "SELECT 2"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.parseComplete, PG.ready("T"))

        XCTAssertTrue(relay.rewriter.deallocate(.name("s1"), pipeline: &relay.pipeline))
        XCTAssertEqual(relay.drain(), PG.commandComplete("DEALLOCATE") + PG.ready("T"), "ReadyForQuery with the current status")
        XCTAssertEqual(relay.fakeReadies, 1)
        XCTAssertNil(relay.rewriter.statements["s1"])
        XCTAssertNotNil(relay.rewriter.statements["s2"])

        XCTAssertFalse(relay.rewriter.deallocate(.name("s1"), pipeline: &relay.pipeline), "unknown: the server answers")
        XCTAssertFalse(relay.rewriter.deallocate(.none, pipeline: &relay.pipeline))

        // Behind a running query the answer waits, and takes the status that query leaves.
        _ = try relay.client(PG.query("COMMIT"))
        XCTAssertTrue(relay.rewriter.deallocate(.all, pipeline: &relay.pipeline))
        XCTAssertEqual(relay.drain(), [])
        XCTAssertEqual(relay.server(PG.commandComplete("COMMIT"), PG.ready("I")),
                       PG.commandComplete("COMMIT") + PG.ready("I") + PG.commandComplete("DEALLOCATE ALL") + PG.ready("I"))
        XCTAssertTrue(relay.rewriter.statements.isEmpty)
        XCTAssertEqual(relay.fakeReadies, 2)
    }

    func testDeallocateInAFailedTransactionIsLeftToTheServer() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT 1"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("E"))
        // PostgreSQL answers 25P02 "current transaction is aborted" and keeps the statement.
        XCTAssertFalse(relay.rewriter.deallocate(.name("s1"), pipeline: &relay.pipeline))
        XCTAssertFalse(relay.rewriter.deallocate(.all, pipeline: &relay.pipeline))
        XCTAssertNotNil(relay.rewriter.statements["s1"])
    }

    func testEvictionClosesTheLeastRecentlyUsedAndDropsItsCloseComplete() throws {
        var relay = RelayHarness(capacity: 2)
        _ = try relay.client(PG.parse("s1", "SELECT 1"), PG.parse("s2", "SELECT 2"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.parseComplete, PG.ready("I"))
        // Using s1 makes s2 the least recently used.
        _ = try relay.client(PG.bind("", "s1"), PG.execute(), PG.sync)
        _ = relay.server(PG.bindComplete, PG.commandComplete("SELECT 1"), PG.ready("I"))

        let sent = try relay.client(PG.parse("s3", "SELECT 3"), PG.sync)
        XCTAssertEqual(sent.server, PG.closeStatement("pgrelay_2") + PG.parse("pgrelay_3", "SELECT 3") + PG.sync)
        XCTAssertEqual(relay.server(PG.closeComplete, PG.parseComplete, PG.ready("I")), PG.parseComplete + PG.ready("I"))
        XCTAssertEqual(relay.cache.count, 2)
        XCTAssertFalse(relay.cache.contains("pgrelay_2"))

        // s2 is still the client's: a Bind prepares it again (evicting s1's server statement).
        let again = try relay.client(PG.bind("", "s2"), PG.execute(), PG.sync)
        XCTAssertEqual(again.server, PG.closeStatement("pgrelay_1") + PG.closeStatement("pgrelay_2") + PG.parse("pgrelay_2", "SELECT 2")
                           + PG.bind("", "pgrelay_2") + PG.execute() + PG.sync,
                       "an evicted name is closed again before it is prepared again, in case its first Close was skipped")
        XCTAssertEqual(relay.server(PG.closeComplete, PG.closeComplete, PG.parseComplete, PG.bindComplete, PG.commandComplete("SELECT 1"), PG.ready("I")),
                       PG.bindComplete + PG.commandComplete("SELECT 1") + PG.ready("I"))
    }

    func testFlushDoesNotEndTheBatch() throws {
        var relay = RelayHarness()
        let sent = try relay.client(PG.parse("s1", "SELECT 1"), PG.flush)
        XCTAssertEqual(sent.server, PG.parse("pgrelay_1", "SELECT 1") + PG.flush)
        XCTAssertEqual(relay.server(PG.parseComplete), PG.parseComplete)
        XCTAssertTrue(relay.pipeline.isEmpty)

        let more = try relay.client(PG.parse("s2", "SELECT 1"), PG.bind("", "s2"), PG.flush)
        XCTAssertEqual(more.server, PG.bind("", "pgrelay_1") + PG.flush)
        XCTAssertEqual(more.client, PG.parseComplete)
        XCTAssertEqual(relay.server(PG.bindComplete), PG.bindComplete)
        _ = try relay.client(PG.sync)
        XCTAssertEqual(relay.server(PG.ready("T")), PG.ready("T"))
        XCTAssertEqual(relay.pipeline.status, .inTransaction)
    }

    func testMalformedFramesThrow() {
        var relay = RelayHarness()
        for bytes in [SessionWire.message("P", SessionWire.text("s1\0SELECT 1")), SessionWire.message("B", SessionWire.text("\0s1")),
                      SessionWire.message("D", [0x58, 0]), SessionWire.message("C", [])] {
            XCTAssertThrowsError(try relay.client(bytes)) { error in
                XCTAssertEqual((error as? WireError)?.sqlState, "08P01")
            }
        }
    }
}
