import NIOCore
import PGWire
import XCTest
@testable import PGRelayCore

final class RoutingInternalQueryTests: XCTestCase {
    private func frames(_ write: (inout ByteBuffer) -> Void) -> [Frame] {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        write(&buffer)
        var result: [Frame] = []
        while let frame = try? FrameReader.next(from: &buffer, maxLength: 1 << 20) { result.append(frame) }
        return result
    }

    private func feed(_ machine: inout InternalQueryMachine, _ write: (inout ByteBuffer) -> Void) -> [InternalQueryMachine.Action] {
        frames(write).map { machine.receive($0) }
    }

    /// A machine past a trust login, with the query messages it sent.
    private func loggedIn(query: String = "SELECT rolname FROM pg_authid WHERE rolname = $1", parameters: [String?] = ["o'brien"],
                          maxRows: Int = 10) -> (InternalQueryMachine, [Frame]) {
        var machine = InternalQueryMachine(credentials: ServerCredentials(user: "u", password: "p"), query: query,
                                           parameters: parameters, maxRows: maxRows)
        let actions = feed(&machine) {
            $0.writeAuthenticationRequest(.ok)
            $0.writeParameterStatus(name: "server_version", value: "15")
            $0.writeBackendKeyData(CancelRequest(processID: 1, secretKey: 2))
            $0.writeReadyForQuery(.idle)
        }
        guard case .send(var sent)? = actions.last else {
            XCTFail("no query sent after login: \(actions)")
            return (machine, [])
        }
        var sentFrames: [Frame] = []
        while let frame = try? FrameReader.next(from: &sent, maxLength: 1 << 20) { sentFrames.append(frame) }
        return (machine, sentFrames)
    }

    func testSendsExtendedProtocolWithSeparateTextParameters() throws {
        let (_, sent) = loggedIn(parameters: ["o'brien", nil])
        XCTAssertEqual(sent.map { Character(UnicodeScalar($0.type)) }, ["P", "B", "D", "E", "S"])
        guard case .parse(let parse)? = try FrontendMessage.decode(sent[0]) else { return XCTFail("no Parse") }
        XCTAssertEqual(parse.query, "SELECT rolname FROM pg_authid WHERE rolname = $1", "the SQL is sent untouched")
        guard case .bind(let bind)? = try FrontendMessage.decode(sent[1]) else { return XCTFail("no Bind") }
        var rest = bind.remainder
        XCTAssertEqual(rest.readInteger(as: Int16.self), 0, "no parameter formats: text")
        XCTAssertEqual(rest.readInteger(as: Int16.self), 2)
        XCTAssertEqual(rest.readInteger(as: Int32.self), 7)
        XCTAssertEqual(rest.readString(length: 7), "o'brien")
        XCTAssertEqual(rest.readInteger(as: Int32.self), -1, "nil is NULL")
        XCTAssertEqual(rest.readInteger(as: Int16.self), 0, "no result formats: text")
        XCTAssertEqual(rest.readableBytes, 0)
        XCTAssertEqual(try FrontendMessage.decode(sent[2]), .describe(.init(kind: .portal, name: "")))
        XCTAssertEqual(try FrontendMessage.decode(sent[3]), .execute(portal: "", maxRows: 0))
    }

    func testCollectsRows() {
        var (machine, _) = loggedIn()
        let actions = feed(&machine) {
            $0.writeEmptyBackendMessage(BackendType.parseComplete)
            $0.writeEmptyBackendMessage(BackendType.bindComplete)
            $0.writeRowDescription([("a", 25), ("b", 23)])
            $0.writeDataRow(["x", nil])
            $0.writeNoticeResponse(ErrorFields(severity: "NOTICE", sqlState: "00000", message: "hello"))
            $0.writeDataRow(["", "42"])
            $0.writeCommandComplete("SELECT 2")
            $0.writeReadyForQuery(.idle)
        }
        XCTAssertEqual(actions.last, .done(QueryResult(columns: ["a", "b"], rows: [["x", nil], ["", "42"]], commandTag: "SELECT 2")))
        XCTAssertEqual(machine.connectionClosed(), .wait, "closing after the answer is no failure")
    }

    func testStatementWithoutRowsAndEmptyQuery() {
        var (machine, _) = loggedIn()
        let actions = feed(&machine) {
            $0.writeEmptyBackendMessage(BackendType.parseComplete)
            $0.writeEmptyBackendMessage(BackendType.bindComplete)
            $0.writeEmptyBackendMessage(BackendType.noData)
            $0.writeEmptyBackendMessage(BackendType.emptyQueryResponse)
            $0.writeReadyForQuery(.idle)
        }
        XCTAssertEqual(actions.last, .done(QueryResult(columns: [], rows: [], commandTag: "")))
    }

    func testServerErrorIsReportedAfterReadyForQuery() {
        var (machine, _) = loggedIn()
        let error = ErrorFields(sqlState: "42P01", message: "relation \"nope\" does not exist", hint: "check the name")
        let actions = feed(&machine) {
            $0.writeErrorResponse(error)
            $0.writeReadyForQuery(.idle)
        }
        XCTAssertEqual(actions, [.wait, .fail(.queryFailed(error))])
        XCTAssertEqual(InternalQueryError.queryFailed(error).serverError?.sqlState, "42P01")
        XCTAssertTrue(InternalQueryError.queryFailed(error).description.contains("42P01"))
        XCTAssertTrue(InternalQueryError.queryFailed(error).description.contains("check the name"))
    }

    func testLoginPaths() {
        var machine = InternalQueryMachine(credentials: ServerCredentials(user: "u", password: "secret"), query: "SELECT 1")
        let asked = feed(&machine) { $0.writeAuthenticationRequest(.cleartextPassword) }
        guard case .send(let bytes)? = asked.first else { return XCTFail("no password sent") }
        XCTAssertEqual(bytes.getInteger(at: 0, as: UInt8.self), FrontendType.password)

        let refused = ErrorFields(severity: "FATAL", sqlState: "28P01", message: "password authentication failed for user \"u\"")
        XCTAssertEqual(feed(&machine) { $0.writeErrorResponse(refused) }, [.fail(.loginFailed(refused))])
        XCTAssertEqual(feed(&machine) { $0.writeReadyForQuery(.idle) }, [.wait], "nothing happens after the end")

        var noPassword = InternalQueryMachine(credentials: ServerCredentials(user: "u"), query: "SELECT 1")
        guard case .fail(.loginFailed(let fields))? = feed(&noPassword, { $0.writeAuthenticationRequest(.cleartextPassword) }).first else {
            return XCTFail("login without a password did not fail")
        }
        XCTAssertEqual(fields.sqlState, "08006")
    }

    func testMalformedAnswers() {
        struct Case {
            let name: String
            let write: (inout ByteBuffer) -> Void
        }
        let cases: [Case] = [
            Case(name: "DataRow value longer than the message") {
                $0.writeRowDescription([("a", 25)])
                $0.writeMessage(BackendType.dataRow) { body in
                    body.writeInteger(Int16(1))
                    body.writeInteger(Int32(100))
                    body.writeString("short")
                }
            },
            Case(name: "DataRow negative length") {
                $0.writeRowDescription([("a", 25)])
                $0.writeMessage(BackendType.dataRow) { body in
                    body.writeInteger(Int16(1))
                    body.writeInteger(Int32(-7))
                }
            },
            Case(name: "DataRow width differs from RowDescription") {
                $0.writeRowDescription([("a", 25)])
                $0.writeDataRow(["1", "2"])
            },
            Case(name: "short RowDescription") {
                $0.writeMessage(BackendType.rowDescription) { body in
                    body.writeInteger(Int16(1))
                    body.writeNullTerminatedString("a")
                    body.writeInteger(Int32(0))
                }
            },
            Case(name: "negative column count") {
                $0.writeMessage(BackendType.rowDescription) { body in body.writeInteger(Int16(-1)) }
            },
            Case(name: "COPY answer") { $0.writeEmptyBackendMessage(BackendType.copyOutResponse) },
            Case(name: "ReadyForQuery before completion") { $0.writeReadyForQuery(.idle) },
            Case(name: "unterminated CommandComplete") {
                $0.writeMessage(BackendType.commandComplete) { body in body.writeString("SELECT") }
            },
        ]
        for c in cases {
            var (machine, _) = loggedIn()
            let actions = feed(&machine, c.write)
            guard case .fail(.protocolViolation)? = actions.last else {
                XCTFail("\(c.name): \(actions)")
                continue
            }
        }
    }

    func testTooManyRows() {
        var (machine, _) = loggedIn(maxRows: 1)
        let actions = feed(&machine) {
            $0.writeRowDescription([("a", 25)])
            $0.writeDataRow(["1"])
            $0.writeDataRow(["2"])
        }
        XCTAssertEqual(actions.last, .fail(.tooManyRows(limit: 1)))
    }

    func testConnectionClosedMidway() {
        var (machine, _) = loggedIn()
        _ = feed(&machine) { $0.writeRowDescription([("a", 25)]) }
        XCTAssertEqual(machine.connectionClosed(), .fail(.connectionClosed))
    }

    func testInvalidRequests() {
        let credentials = ServerCredentials(user: "u", password: "p")
        XCTAssertNoThrow(try InternalQueryMachine(credentials: credentials, query: "SELECT $1", parameters: ["x"]).validate())
        XCTAssertThrowsError(try InternalQueryMachine(credentials: credentials, query: "SELECT $1", parameters: ["a\0b"]).validate())
        XCTAssertThrowsError(try InternalQueryMachine(credentials: credentials, query: "SELECT 1\0").validate())
        let many = [String?](repeating: "1", count: InternalQueryMachine.maximumParameters + 1)
        XCTAssertThrowsError(try InternalQueryMachine(credentials: credentials, query: "SELECT 1", parameters: many).validate())
    }

    func testResultLookup() {
        let result = QueryResult(columns: ["a", "b"], rows: [["1", nil]], commandTag: "SELECT 1")
        XCTAssertEqual(result.value(row: 0, column: "a"), "1")
        XCTAssertNil(result.value(row: 0, column: "b"))
        XCTAssertNil(result.value(row: 1, column: "a"))
        XCTAssertNil(result.value(row: 0, column: "c"))
    }
}
