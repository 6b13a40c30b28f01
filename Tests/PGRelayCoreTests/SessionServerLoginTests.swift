import NIOCore
import PGRelayCore
import PGWire
import XCTest

final class SessionServerLoginTests: XCTestCase {
    typealias Action = ServerLoginMachine.Action

    /// What follows AuthenticationOk on every login: parameters, key, ReadyForQuery.
    func finishLogin(_ machine: inout ServerLoginMachine, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(machine.receive(.parameterStatus(name: "server_version", value: "15.8")), .wait, file: file, line: line)
        XCTAssertEqual(machine.receive(.parameterStatus(name: "TimeZone", value: "UTC")), .wait, file: file, line: line)
        XCTAssertEqual(machine.receive(.noticeResponse(ErrorFields(severity: "NOTICE", sqlState: "00000", message: "hi"))), .wait, file: file, line: line)
        XCTAssertEqual(machine.receive(.backendKeyData(CancelRequest(processID: 77, secretKey: 99))), .wait, file: file, line: line)
        XCTAssertEqual(machine.receive(.readyForQuery(.idle)), .ready, file: file, line: line)
        XCTAssertEqual(machine.parameters, ["server_version": "15.8", "TimeZone": "UTC"], file: file, line: line)
        XCTAssertEqual(machine.backendKey, CancelRequest(processID: 77, secretKey: 99), file: file, line: line)
    }

    func sent(_ action: Action, file: StaticString = #filePath, line: UInt = #line) -> ByteBuffer? {
        guard case .send(let buffer) = action else {
            XCTFail("expected .send, got \(action)", file: file, line: line)
            return nil
        }
        return buffer
    }

    func assertFails(_ action: Action, sqlState: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        guard case .fail(let fields) = action else { return XCTFail("\(label): expected .fail, got \(action)", file: file, line: line) }
        XCTAssertEqual(fields.sqlState, sqlState, label, file: file, line: line)
        XCTAssertFalse(fields.message.isEmpty, label, file: file, line: line)
    }

    func testStartupMessageBytes() {
        let bytes = SessionWire.bytes(ServerLoginMachine.startupMessage(user: "alice", database: "db", extra: [("application_name", "x")]))
        XCTAssertEqual(bytes, SessionWire.int32(51) + [0, 3, 0, 0] + SessionWire.text("user\0alice\0database\0db\0application_name\0x\0\0"))
    }

    func testTrust() {
        var machine = ServerLoginMachine(credentials: ServerCredentials(user: "alice"))
        XCTAssertEqual(machine.receive(.authentication(.ok)), .wait)
        finishLogin(&machine)
    }

    func testCleartextPassword() throws {
        var machine = ServerLoginMachine(credentials: ServerCredentials(user: "alice", password: "secret"))
        let answer = try XCTUnwrap(sent(machine.receive(.authentication(.cleartextPassword))))
        XCTAssertEqual(SessionWire.bytes(answer), [0x70, 0, 0, 0, 11] + SessionWire.text("secret\0"))
        XCTAssertEqual(machine.receive(.authentication(.ok)), .wait)
        finishLogin(&machine)

        var without = ServerLoginMachine(credentials: ServerCredentials(user: "alice", md5Secret: "md54a0a68b43b6cd5cf266fa02f196e2371"))
        assertFails(without.receive(.authentication(.cleartextPassword)), sqlState: "08006", "no cleartext password known")
    }

    func testMD5ResponseBytes() throws {
        // md5(md5("secret" + "alice") hex + salt 01 02 03 04), computed independently with Python's hashlib.
        let expected: [UInt8] = [0x70, 0, 0, 0, 40] + SessionWire.text("md598a0412b9c31436fc53776e863350083\0")
        let credentials: [(String, ServerCredentials)] = [
            ("password", ServerCredentials(user: "alice", password: "secret")),
            ("md5 secret from the auth_file", ServerCredentials(user: "alice", md5Secret: "md54a0a68b43b6cd5cf266fa02f196e2371")),
        ]
        for (label, credential) in credentials {
            var machine = ServerLoginMachine(credentials: credential)
            let answer = try XCTUnwrap(sent(machine.receive(.authentication(.md5Password(salt: [1, 2, 3, 4])))), label)
            XCTAssertEqual(SessionWire.bytes(answer), expected, label)
            XCTAssertEqual(machine.receive(.authentication(.ok)), .wait, label)
            finishLogin(&machine)
        }
        var nothing = ServerLoginMachine(credentials: ServerCredentials(user: "alice"))
        assertFails(nothing.receive(.authentication(.md5Password(salt: [1, 2, 3, 4]))), sqlState: "08006", "nothing to answer md5 with")
    }

    /// Runs the proxy's SCRAM login against a SCRAMServerExchange acting as PostgreSQL.
    func scramLogin(_ credentials: ServerCredentials, serverSecret: StoredSecret, tamperFinal: Bool = false) throws -> (ServerLoginMachine, Action) {
        var machine = ServerLoginMachine(credentials: credentials)
        var server = try SCRAMServerExchange(username: credentials.user, secret: serverSecret)
        let initial = try XCTUnwrap(sent(machine.receive(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])))))
        let (mechanism, clientFirst) = try SessionWire.saslPayload(initial, initial: true)
        XCTAssertEqual(mechanism, "SCRAM-SHA-256")
        let serverFirst = try server.receiveClientFirst(clientFirst)
        let response = try XCTUnwrap(sent(machine.receive(.authentication(.saslContinue(data: serverFirst)))))
        let (_, clientFinal) = try SessionWire.saslPayload(response, initial: false)
        var serverFinal = try server.receiveClientFinal(clientFinal)
        XCTAssertTrue(server.isComplete)
        // A character in the middle: the last one before "=" also carries padding bits decoders ignore.
        if tamperFinal { serverFinal[10] = serverFinal[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A") }
        let action = machine.receive(.authentication(.saslFinal(data: serverFinal)))
        return (machine, action)
    }

    func testSCRAMWithPassword() throws {
        let secret = try SCRAMSecret.make(password: "pencil", salt: Array("saltsalt".utf8), iterations: 4096)
        var (machine, action) = try scramLogin(ServerCredentials(user: "bob", password: "pencil"), serverSecret: .scram(secret))
        XCTAssertEqual(action, .wait)
        XCTAssertEqual(machine.receive(.authentication(.ok)), .wait)
        finishLogin(&machine)
    }

    func testSCRAMWithKeysRecoveredFromAClient() throws {
        // The auth_file holds only the SCRAM secret: a client's login yields keys that log in to a
        // server storing the same secret.
        let secret = try SCRAMSecret.make(password: "pencil", salt: Array("saltsalt".utf8), iterations: 4096)
        var proxyAsServer = try SCRAMServerExchange(username: "bob", secret: .scram(secret))
        var client = try SCRAMClientExchange(username: "bob", credential: .password("pencil"))
        let serverFirst = try proxyAsServer.receiveClientFirst(client.clientFirstMessage())
        try client.receiveServerFinal(proxyAsServer.receiveClientFinal(client.receiveServerFirst(serverFirst)))
        let keys = try XCTUnwrap(proxyAsServer.passthroughCredential)

        var (machine, action) = try scramLogin(ServerCredentials(user: "bob", scramKeys: keys), serverSecret: .scram(secret))
        XCTAssertEqual(action, .wait)
        XCTAssertEqual(machine.receive(.authentication(.ok)), .wait)
        finishLogin(&machine)
    }

    func testSCRAMFailures() throws {
        let secret = try SCRAMSecret.make(password: "pencil", salt: Array("saltsalt".utf8), iterations: 4096)
        let (_, tampered) = try scramLogin(ServerCredentials(user: "bob", password: "pencil"), serverSecret: .scram(secret), tamperFinal: true)
        assertFails(tampered, sqlState: "08006", "server signature does not match")

        var noMechanism = ServerLoginMachine(credentials: ServerCredentials(user: "bob", password: "pencil"))
        assertFails(noMechanism.receive(.authentication(.sasl(mechanisms: ["OAUTHBEARER"]))), sqlState: "08006", "no SCRAM-SHA-256 offered")

        var noCredential = ServerLoginMachine(credentials: ServerCredentials(user: "bob", md5Secret: "md54a0a68b43b6cd5cf266fa02f196e2371"))
        assertFails(noCredential.receive(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"]))), sqlState: "08006", "nothing to do SCRAM with")

        var garbage = ServerLoginMachine(credentials: ServerCredentials(user: "bob", password: "pencil"))
        _ = garbage.receive(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))
        assertFails(garbage.receive(.authentication(.saslContinue(data: Array("garbage".utf8)))), sqlState: "08006", "malformed server-first")
    }

    func testServerErrorDuringLoginCarriesTheServersSQLState() {
        let serverError = ErrorFields(severity: "FATAL", sqlState: "28P01", message: "password authentication failed for user \"alice\"")
        var atStart = ServerLoginMachine(credentials: ServerCredentials(user: "alice", password: "wrong"))
        XCTAssertEqual(atStart.receive(.errorResponse(serverError)), .fail(serverError))

        var afterPassword = ServerLoginMachine(credentials: ServerCredentials(user: "alice", password: "wrong"))
        _ = afterPassword.receive(.authentication(.cleartextPassword))
        XCTAssertEqual(afterPassword.receive(.errorResponse(serverError)), .fail(serverError))

        let noDatabase = ErrorFields(severity: "FATAL", sqlState: "3D000", message: "database \"nope\" does not exist")
        var afterOk = ServerLoginMachine(credentials: ServerCredentials(user: "alice"))
        _ = afterOk.receive(.authentication(.ok))
        XCTAssertEqual(afterOk.receive(.errorResponse(noDatabase)), .fail(noDatabase))

        let noSQLState = ErrorFields(fields: [(UInt8(ascii: "S"), "FATAL"), (UInt8(ascii: "M"), "too many connections")])
        var bare = ServerLoginMachine(credentials: ServerCredentials(user: "alice"))
        XCTAssertEqual(bare.receive(.errorResponse(noSQLState)), .fail(noSQLState), "an error without SQLSTATE is passed on as is")
    }

    func testUnexpectedMessagesFail() {
        let cases: [(String, [BackendMessage])] = [
            ("ReadyForQuery before authentication", [.readyForQuery(.idle)]),
            ("ParameterStatus before authentication", [.parameterStatus(name: "a", value: "b")]),
            ("SASLContinue without SASL", [.authentication(.saslContinue(data: []))]),
            ("SASLFinal without SASL", [.authentication(.saslFinal(data: []))]),
            ("unsupported method (GSS)", [.authentication(.unsupported(code: 7))]),
            ("second AuthenticationOk", [.authentication(.ok), .authentication(.ok)]),
            ("ParseComplete during login", [.authentication(.ok), .parseComplete]),
            ("anything after ReadyForQuery", [.authentication(.ok), .readyForQuery(.idle), .commandComplete(tag: "SELECT 1")]),
        ]
        for (label, messages) in cases {
            var machine = ServerLoginMachine(credentials: ServerCredentials(user: "alice", password: "secret"))
            var last: Action = .wait
            for message in messages { last = machine.receive(message) }
            assertFails(last, sqlState: "08006", label)
        }
    }

    func testNegotiateProtocolVersionBeforeAuthenticationIsAccepted() {
        var machine = ServerLoginMachine(credentials: ServerCredentials(user: "alice"))
        XCTAssertEqual(machine.receive(.negotiateProtocolVersion(newestMinor: 0, unrecognized: ["_pq_.x"])), .wait)
        XCTAssertEqual(machine.receive(.authentication(.ok)), .wait)
        finishLogin(&machine)
    }
}


/// Byte helpers shared by the session state-machine tests: fixtures are written as the bytes
/// PostgreSQL puts on the wire (type, big-endian length, body).
enum SessionWire {
    static func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    static func int32(_ value: Int) -> [UInt8] {
        let bits = UInt32(truncatingIfNeeded: value)
        return [UInt8(bits >> 24), UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 8), UInt8(truncatingIfNeeded: bits)]
    }

    /// A regular message: type byte, length word (counting itself and the body), body.
    static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        [type.asciiValue ?? 0] + int32(body.count + 4) + body
    }

    static func bytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

    /// The messages in `bytes`, in order.
    static func frames(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [Frame] {
        var input = ByteBuffer(bytes: bytes)
        var frames: [Frame] = []
        do {
            while let frame = try FrameReader.next(from: &input, maxLength: 1 << 20) { frames.append(frame) }
        } catch {
            XCTFail("fixture is not a message stream: \(error)", file: file, line: line)
        }
        XCTAssertEqual(input.readableBytes, 0, "fixture ends inside a message", file: file, line: line)
        return frames
    }

    /// The payload of a SASLInitialResponse (mechanism, data) or SASLResponse (data) in `buffer`.
    static func saslPayload(_ buffer: ByteBuffer, initial: Bool, file: StaticString = #filePath, line: UInt = #line) throws -> (mechanism: String?, data: [UInt8]) {
        let frames = frames(bytes(buffer), file: file, line: line)
        XCTAssertEqual(frames.count, 1, file: file, line: line)
        var body = try XCTUnwrap(frames.first, file: file, line: line).body
        XCTAssertEqual(frames.first?.type, UInt8(ascii: "p"), file: file, line: line)
        guard initial else { return (nil, Array(body.readableBytesView)) }
        let mechanism = try XCTUnwrap(body.readNullTerminatedString(), file: file, line: line)
        let length = try XCTUnwrap(body.readInteger(as: Int32.self), file: file, line: line)
        XCTAssertEqual(Int(length), body.readableBytes, file: file, line: line)
        return (mechanism, Array(body.readableBytesView))
    }
}
