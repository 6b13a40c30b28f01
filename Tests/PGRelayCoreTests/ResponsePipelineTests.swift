import NIOCore
@testable import PGRelayCore
import PGWire
import XCTest

final class ResponsePipelineTests: XCTestCase {
    let divisionByZero = PG.error("22012", "division by zero")

    func testErrorInThePipelineSkipsToSyncAndDropsFakesQueuedBeforeIt() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("known", "SELECT 1"), PG.parse("other", "SELECT 5"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.parseComplete, PG.ready("I"))

        // Execute fails; the server skips the rest up to Sync: the second Parse (a fake
        // ParseComplete), the third (sent) and the Close (a fake CloseComplete) get no answer.
        let sent = try relay.client(PG.parse("s1", "SELECT 1/0"), PG.bind("", "s1"), PG.execute(),
                                    PG.parse("again", "SELECT 1"), PG.parse("s3", "SELECT 3"), PG.closeStatement("known"), PG.sync,
                                    PG.bind("", "other"), PG.execute(), PG.sync)
        XCTAssertEqual(sent.server, PG.parse("pgrelay_3", "SELECT 1/0") + PG.bind("", "pgrelay_3") + PG.execute()
                           + PG.parse("pgrelay_4", "SELECT 3") + PG.sync + PG.bind("", "pgrelay_2") + PG.execute() + PG.sync)
        XCTAssertEqual(sent.client, [])
        XCTAssertEqual(relay.server(PG.parseComplete, PG.bindComplete, divisionByZero, PG.ready("I")),
                       PG.parseComplete + PG.bindComplete + divisionByZero + PG.ready("I"))
        XCTAssertEqual(relay.failed, ["pgrelay_4"], "the skipped Parse prepared nothing")
        XCTAssertFalse(relay.cache.contains("pgrelay_4"))
        XCTAssertTrue(relay.cache.contains("pgrelay_3"), "its Parse ran before the error")
        // The second batch is unaffected.
        XCTAssertEqual(relay.server(PG.bindComplete, PG.dataRow, PG.commandComplete("SELECT 1"), PG.ready("I")),
                       PG.bindComplete + PG.dataRow + PG.commandComplete("SELECT 1") + PG.ready("I"))
        XCTAssertTrue(relay.pipeline.isEmpty)

        // s3's Parse never ran: a Bind prepares it (closing the name first, its state being unknown).
        let retry = try relay.client(PG.bind("", "s3"), PG.sync)
        XCTAssertEqual(retry.server, PG.closeStatement("pgrelay_4") + PG.parse("pgrelay_4", "SELECT 3") + PG.bind("", "pgrelay_4") + PG.sync)
    }

    func testMessagesSentAfterAnErrorAndBeforeTheSyncLeaveNoExpectationBehind() throws {
        // psycopg's pipeline: a failing statement, another one sent after the error came back
        // (the server skips it), then the Sync; then a prepared statement the server already
        // has, whose made-up ParseComplete must come first.
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("_pg3_0", "SELECT 1"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("I"))
        _ = try relay.client(PG.parse("", "SELECT aaaa"), PG.bind("", ""), PG.execute())
        let undefined = PG.error("42703", "column \"aaaa\" does not exist")
        XCTAssertEqual(relay.server(undefined), undefined)
        _ = try relay.client(PG.parse("", "SELECT 123"), PG.bind("", ""), PG.execute(), PG.sync)
        XCTAssertEqual(relay.server(PG.ready("I")), PG.ready("I"))
        XCTAssertTrue(relay.pipeline.isEmpty, "nothing is owed for the skipped messages")
        let sent = try relay.client(PG.parse("_pg3_0", "SELECT 1"), PG.bind("", "_pg3_0"), PG.execute(), PG.sync)
        XCTAssertEqual(sent.client, PG.parseComplete, "the made-up ParseComplete goes out at once")
        XCTAssertEqual(relay.server(PG.bindComplete, PG.dataRow, PG.commandComplete("SELECT 1"), PG.ready("I")),
                       PG.bindComplete + PG.dataRow + PG.commandComplete("SELECT 1") + PG.ready("I"))
    }

    func testFailingInjectedParseReachesTheClient() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT * FROM t"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("I"))
        relay.switchServer(to: ServerStatementCache(capacity: 4))
        let sent = try relay.client(PG.bind("", "s1"), PG.execute(), PG.sync)
        XCTAssertEqual(sent.server, PG.parse("pgrelay_1", "SELECT * FROM t") + PG.bind("", "pgrelay_1") + PG.execute() + PG.sync)
        let noTable = PG.error("42P01", "relation \"t\" does not exist")
        XCTAssertEqual(relay.server(noTable, PG.ready("I")), noTable + PG.ready("I"))
        XCTAssertEqual(relay.failed, ["pgrelay_1"])
        XCTAssertFalse(relay.cache.contains("pgrelay_1"))
    }

    func testEvictionCloseSkippedByAnErrorIsRepeatedBeforeTheNameIsPreparedAgain() throws {
        var relay = RelayHarness(capacity: 1)
        _ = try relay.client(PG.parse("a", "SELECT 1"), PG.sync)
        _ = relay.server(PG.parseComplete, PG.ready("I"))
        // The error comes before the eviction's Close: the server keeps pgrelay_1.
        let sent = try relay.client(PG.query("SELECT 1/0"))
        XCTAssertEqual(sent.server, PG.query("SELECT 1/0"))
        _ = relay.server(divisionByZero, PG.ready("I"))
        let batch = try relay.client(PG.parse("", "SELECT 1/0"), PG.execute(), PG.parse("b", "SELECT 2"), PG.sync)
        XCTAssertEqual(batch.server, PG.parse("", "SELECT 1/0") + PG.execute() + PG.closeStatement("pgrelay_1")
                           + PG.parse("pgrelay_2", "SELECT 2") + PG.sync)
        XCTAssertEqual(relay.server(PG.parseComplete, divisionByZero, PG.ready("I")), PG.parseComplete + divisionByZero + PG.ready("I"))
        XCTAssertEqual(relay.failed, ["pgrelay_2"])
        // PostgreSQL would answer a bare Parse of pgrelay_1 with 42P05 "already exists".
        let again = try relay.client(PG.bind("", "a"), PG.sync)
        XCTAssertEqual(again.server, PG.closeStatement("pgrelay_1") + PG.parse("pgrelay_1", "SELECT 1") + PG.bind("", "pgrelay_1") + PG.sync)
        XCTAssertEqual(relay.server(PG.closeComplete, PG.parseComplete, PG.bindComplete, PG.ready("I")), PG.bindComplete + PG.ready("I"))
    }

    func testSeveralSyncsInFlight() throws {
        var relay = RelayHarness()
        let sent = try relay.client(PG.parse("s1", "SELECT 1"), PG.bind("", "s1"), PG.execute(), PG.sync,
                                    PG.bind("", "s1"), PG.execute(), PG.sync,
                                    PG.closeStatement("s1"), PG.sync)
        XCTAssertEqual(sent.server, PG.parse("pgrelay_1", "SELECT 1") + PG.bind("", "pgrelay_1") + PG.execute() + PG.sync
                           + PG.bind("", "pgrelay_1") + PG.execute() + PG.sync + PG.sync)
        let client = relay.server(PG.parseComplete, PG.bindComplete, PG.commandComplete("SELECT 1"), PG.ready("I"),
                                  PG.bindComplete, PG.commandComplete("SELECT 1"), PG.ready("I"), PG.ready("I"))
        XCTAssertEqual(client, PG.parseComplete + PG.bindComplete + PG.commandComplete("SELECT 1") + PG.ready("I")
                           + PG.bindComplete + PG.commandComplete("SELECT 1") + PG.ready("I") + PG.closeComplete + PG.ready("I"))
        XCTAssertTrue(relay.pipeline.isEmpty)
    }

    func testAnErrorOnlySkipsItsOwnBatch() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT 1/0"), PG.bind("", "s1"), PG.execute(), PG.sync,
                             PG.parse("s2", "SELECT 2"), PG.sync)
        XCTAssertEqual(relay.server(PG.parseComplete, PG.bindComplete, divisionByZero, PG.ready("I"), PG.parseComplete, PG.ready("I")),
                       PG.parseComplete + PG.bindComplete + divisionByZero + PG.ready("I") + PG.parseComplete + PG.ready("I"))
        XCTAssertEqual(relay.failed, [])
        XCTAssertTrue(relay.cache.contains("pgrelay_2"))
    }

    func testErrorInsideASimpleQueryWaitsForItsReadyForQuery() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.query("SELECT 1/0"), PG.parse("s1", "SELECT 1"), PG.sync)
        XCTAssertEqual(relay.server(divisionByZero, PG.ready("I")), divisionByZero + PG.ready("I"))
        XCTAssertEqual(relay.server(PG.parseComplete, PG.ready("I")), PG.parseComplete + PG.ready("I"))
        XCTAssertEqual(relay.failed, [])
    }

    func testAsynchronousMessagesPassAtAnyPoint() throws {
        var relay = RelayHarness()
        _ = try relay.client(PG.parse("s1", "SELECT 1"), PG.sync)
        let status = SessionWire.message("S", SessionWire.text("TimeZone\0UTC\0"))
        let notification = SessionWire.message("A", SessionWire.int32(1) + SessionWire.text("ch\0\0"))
        XCTAssertEqual(relay.server(PG.notice, status, notification, PG.parseComplete, PG.ready("I")),
                       PG.notice + status + notification + PG.parseComplete + PG.ready("I"))
        // With nothing expected, a server's own error (e.g. admin shutdown) still reaches the client.
        let shutdown = PG.error("57P01", "terminating connection due to administrator command")
        XCTAssertEqual(relay.server(shutdown), shutdown)
    }

    func testSwallowedAnswersDropEverythingUpToTheirCompletion() {
        var pipeline = ResponsePipeline()
        pipeline.append(.swallow(.describeStatement, serverStatement: nil))
        pipeline.append(.forward(.ready, serverStatement: nil))
        var fakes = ByteBuffer()
        XCTAssertEqual(pipeline.serverMessage(BackendType.parameterDescription, fakesAfter: &fakes), .drop)
        XCTAssertEqual(pipeline.serverMessage(BackendType.noticeResponse, fakesAfter: &fakes), .forward)
        XCTAssertEqual(pipeline.serverMessage(BackendType.rowDescription, fakesAfter: &fakes), .drop)
        XCTAssertEqual(pipeline.serverMessage(BackendType.readyForQuery, status: .inTransaction, fakesAfter: &fakes), .forward)
        XCTAssertEqual(pipeline.status, .inTransaction)
        XCTAssertTrue(pipeline.isEmpty)
        XCTAssertEqual(fakes.readableBytes, 0)
    }

    func testExecuteEndings() {
        for ending in [BackendType.commandComplete, BackendType.emptyQueryResponse, BackendType.portalSuspended] {
            var pipeline = ResponsePipeline()
            pipeline.append(.forward(.execute, serverStatement: nil))
            var closeComplete = ByteBuffer()
            closeComplete.writeEmptyBackendMessage(BackendType.closeComplete)
            pipeline.append(.fake(closeComplete))
            var fakes = ByteBuffer()
            XCTAssertEqual(pipeline.serverMessage(BackendType.dataRow, fakesAfter: &fakes), .forward)
            XCTAssertEqual(fakes.readableBytes, 0)
            XCTAssertEqual(pipeline.serverMessage(ending, fakesAfter: &fakes), .forward)
            XCTAssertEqual(SessionWire.bytes(fakes), PG.closeComplete, "after \(ending)")
            XCTAssertTrue(pipeline.isEmpty)
        }
    }

    func testResetForgetsEverything() {
        var pipeline = ResponsePipeline()
        pipeline.append(.forward(.parse, serverStatement: "x"))
        pipeline.append(.fakeReady)
        pipeline.reset()
        XCTAssertTrue(pipeline.isEmpty)
        XCTAssertEqual(pipeline.takeFailedStatements(), [])
        XCTAssertEqual(pipeline.takeFakeReadies(), 0)
    }
}
