import NIOCore
@testable import PGRelayCore
import PGWire
import XCTest

final class SessionClientAuthTests: XCTestCase {
    typealias Outcome = ClientAuthMachine.Outcome
    static let wrongPasswordMessage = "password authentication failed for user \"alice\""

    func pencilSecret() throws -> SCRAMSecret {
        try SCRAMSecret.make(password: "pencil", salt: Array("NaCl-NaCl".utf8), iterations: 4096)
    }

    func requestBytes(_ outcome: Outcome, file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
        guard case .send(let buffer) = outcome else {
            XCTFail("expected .send, got \(outcome)", file: file, line: line)
            return []
        }
        return SessionWire.bytes(buffer)
    }

    func assertAuthenticated(_ outcome: Outcome, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        guard case .authenticated = outcome else { return XCTFail("\(label): \(outcome)", file: file, line: line) }
    }

    func assertRejected(_ outcome: Outcome, sqlState: String, message: String? = nil, _ label: String,
                        file: StaticString = #filePath, line: UInt = #line) {
        guard case .reject(let fields) = outcome else { return XCTFail("\(label): expected .reject, got \(outcome)", file: file, line: line) }
        XCTAssertEqual(fields.sqlState, sqlState, label, file: file, line: line)
        XCTAssertEqual(fields.severity, "FATAL", label, file: file, line: line)
        if let message { XCTAssertEqual(fields.message, message, label, file: file, line: line) }
    }

    func password(_ text: String) -> ByteBuffer { ByteBuffer(bytes: SessionWire.text(text) + [0]) }

    func testTrustAndAny() {
        for method in [AuthType.trust, .any] {
            var machine = ClientAuthMachine(method: method, user: "alice", secret: .plain("unused"))
            guard case .authenticated(let prelude, let keys) = machine.start() else { return XCTFail("\(method)") }
            XCTAssertNil(prelude)
            XCTAssertNil(keys)
        }
    }

    func testPeerIsRefusedOverTCP() {
        var machine = ClientAuthMachine(method: .peer, user: "alice", secret: .plain("x"))
        assertRejected(machine.start(), sqlState: "28000", "peer")
    }

    func testPlain() throws {
        let md5 = StoredSecret.md5(MD5Password.hash(password: "secret", user: "alice"))
        let scram = StoredSecret.scram(try SCRAMSecret.make(password: "secret", salt: [1, 2, 3], iterations: 4096))
        let cases: [(String, StoredSecret?, String, Bool)] = [
            ("plain secret, right", .plain("secret"), "secret", true),
            ("plain secret, wrong", .plain("secret"), "Secret", false),
            ("md5 secret, right", md5, "secret", true),
            ("md5 secret, wrong", md5, "secret2", false),
            ("scram secret, right", scram, "secret", true),
            ("scram secret, wrong", scram, "secre", false),
            ("unknown user", nil, "secret", false),
            ("empty password against an empty secret", .plain(""), "", false),
        ]
        for (label, secret, attempt, accepted) in cases {
            var machine = ClientAuthMachine(method: .plain, user: "alice", secret: secret)
            XCTAssertEqual(requestBytes(machine.start()), [0x52, 0, 0, 0, 8, 0, 0, 0, 3], label)
            let outcome = machine.receive(password: password(attempt))
            if accepted {
                assertAuthenticated(outcome, label)
            } else {
                assertRejected(outcome, sqlState: "28P01", message: Self.wrongPasswordMessage, label)
            }
        }
    }

    func testMD5() throws {
        let cases: [(String, StoredSecret?, String, Bool)] = [
            ("plain secret, right", .plain("secret"), "secret", true),
            ("plain secret, wrong", .plain("secret"), "wrong", false),
            ("md5 secret, right", .md5("md54a0a68b43b6cd5cf266fa02f196e2371"), "secret", true),
            ("md5 secret, wrong", .md5("md54a0a68b43b6cd5cf266fa02f196e2371"), "wrong", false),
            ("unknown user", nil, "secret", false),
        ]
        for (label, secret, attempt, accepted) in cases {
            var machine = ClientAuthMachine(method: .md5, user: "alice", secret: secret)
            let request = requestBytes(machine.start())
            XCTAssertEqual(Array(request.prefix(9)), [0x52, 0, 0, 0, 12, 0, 0, 0, 5], label)
            XCTAssertEqual(request.count, 13, label)
            let salt = Array(request.suffix(4))
            let response = MD5Password.response(hashedSecret: MD5Password.hash(password: attempt, user: "alice"), salt: salt)
            let outcome = machine.receive(password: password(response))
            if accepted {
                assertAuthenticated(outcome, label)
            } else {
                assertRejected(outcome, sqlState: "28P01", message: Self.wrongPasswordMessage, label)
            }
        }
    }

    func testMD5SaltsDiffer() {
        var salts = Set<[UInt8]>()
        for _ in 0..<8 {
            var machine = ClientAuthMachine(method: .md5, user: "alice", secret: .plain("secret"))
            salts.insert(Array(requestBytes(machine.start()).suffix(4)))
        }
        XCTAssertGreaterThan(salts.count, 1, "a fixed salt would allow replaying a sniffed response")
    }

    /// A full SCRAM exchange with SCRAMClientExchange as the client.
    func scram(method: AuthType, secret: StoredSecret?, password attempt: String) throws -> Outcome {
        var machine = ClientAuthMachine(method: method, user: "alice", secret: secret)
        let offer = requestBytes(machine.start())
        XCTAssertEqual(offer, [0x52, 0, 0, 0, 23, 0, 0, 0, 10] + SessionWire.text("SCRAM-SHA-256\0\0"))
        var client = try SCRAMClientExchange(username: "", credential: .password(attempt))
        var initial = ByteBuffer()
        initial.writeSASLInitialResponse(mechanism: "SCRAM-SHA-256", data: client.clientFirstMessage())
        let continueBytes = requestBytes(machine.receive(password: SessionWire.frames(SessionWire.bytes(initial))[0].body))
        XCTAssertEqual(Array(continueBytes.prefix(1) + continueBytes[5..<9]), [0x52, 0, 0, 0, 11])
        let clientFinal = try client.receiveServerFirst(Array(continueBytes.dropFirst(9)))
        let outcome = machine.receive(password: ByteBuffer(bytes: clientFinal))
        if case .authenticated(let prelude?, _) = outcome {
            let final = SessionWire.bytes(prelude)
            XCTAssertEqual(Array(final.prefix(1) + final[5..<9]), [0x52, 0, 0, 0, 12], "SASLFinal goes out before AuthenticationOk")
            try client.receiveServerFinal(Array(final.dropFirst(9)))
            XCTAssertTrue(client.isComplete, "the client accepts the proxy's server signature")
        }
        return outcome
    }

    func testSCRAMFullExchange() throws {
        let secret = try pencilSecret()
        guard case .authenticated(_, let keys) = try scram(method: .scramSHA256, secret: .scram(secret), password: "pencil") else {
            return XCTFail("SCRAM login refused")
        }
        guard case .keys(_, let serverKey, let salt, let iterations)? = keys else { return XCTFail("no keys recovered") }
        XCTAssertEqual(serverKey, secret.serverKey)
        XCTAssertEqual(salt, secret.salt)
        XCTAssertEqual(iterations, 4096)

        guard case .authenticated(_, let none) = try scram(method: .scramSHA256, secret: .plain("pencil"), password: "pencil") else {
            return XCTFail("SCRAM login against a plain secret refused")
        }
        XCTAssertNil(none, "with a plain secret the proxy already knows the password")
    }

    func testMD5FallsBackToSCRAMForASCRAMSecret() throws {
        assertAuthenticated(try scram(method: .md5, secret: .scram(pencilSecret()), password: "pencil"), "md5 → SCRAM")
    }

    /// PgBouncer's words for every failed SCRAM exchange, the same whether the user is unknown or
    /// the password wrong.
    func testSCRAMWrongPasswordAndUnknownUser() throws {
        let sasl = "SASL authentication failed"
        assertRejected(try scram(method: .scramSHA256, secret: .scram(pencilSecret()), password: "pen"),
                       sqlState: "28P01", message: sasl, "wrong password")
        assertRejected(try scram(method: .scramSHA256, secret: nil, password: "pencil"),
                       sqlState: "28P01", message: sasl, "unknown user")
        assertRejected(try scram(method: .scramSHA256, secret: .md5("md54a0a68b43b6cd5cf266fa02f196e2371"), password: "secret"),
                       sqlState: "28P01", message: sasl, "md5 secret cannot serve SCRAM")
        assertRejected(try scram(method: .md5, secret: .scram(pencilSecret()), password: "pen"),
                       sqlState: "28P01", message: sasl, "md5 turned SCRAM for a SCRAM secret")
    }

    /// What the proxy knows of the user decides before any exchange (PgBouncer's rules): trust
    /// needs a known user, auth_query's "no such role" is refused at once, and a role whose
    /// secret is NULL still goes through the exchange, which fails.
    func testUserLookup() {
        struct Case { let method: AuthType; let lookup: UserLookup; let expected: String }
        let cases = [
            Case(method: .trust, lookup: .listed(.plain("")), expected: "authenticated"),
            Case(method: .trust, lookup: .queried(nil), expected: "authenticated"),
            Case(method: .trust, lookup: .unknown, expected: "28000 \"trust\" authentication failed"),
            Case(method: .trust, lookup: .notFound, expected: "28000 no such user"),
            Case(method: .any, lookup: .unknown, expected: "authenticated"),
            Case(method: .any, lookup: .notFound, expected: "authenticated"),
            Case(method: .plain, lookup: .notFound, expected: "28000 no such user"),
            Case(method: .md5, lookup: .notFound, expected: "28000 no such user"),
            Case(method: .scramSHA256, lookup: .notFound, expected: "28000 no such user"),
            Case(method: .plain, lookup: .unknown, expected: "request 3"),
            Case(method: .md5, lookup: .queried(nil), expected: "request 5"),
            Case(method: .md5, lookup: .queried(.scram(try! pencilSecret())), expected: "request 10"),
            Case(method: .scramSHA256, lookup: .unknown, expected: "request 10"),
        ]
        for item in cases {
            var machine = ClientAuthMachine(method: item.method, user: "alice", lookup: item.lookup)
            let described: String
            switch machine.start() {
            case .authenticated: described = "authenticated"
            case .reject(let fields): described = "\(fields.sqlState ?? "") \(fields.message)"
            case .send(let buffer): described = "request \(SessionWire.bytes(buffer)[8])"
            }
            XCTAssertEqual(described, item.expected, "\(item.method) \(item.lookup)")
        }
    }

    func testQueriedRoleWithoutSecretFailsAsAWrongPassword() {
        var machine = ClientAuthMachine(method: .plain, user: "alice", lookup: .queried(nil))
        _ = machine.start()
        assertRejected(machine.receive(password: password("anything")), sqlState: "28P01", message: Self.wrongPasswordMessage, "NULL secret")
    }

    func testMalformedPasswordPackets() throws {
        let secret = StoredSecret.scram(try pencilSecret())
        let cases: [(String, AuthType, [UInt8])] = [
            ("cleartext without terminator", .plain, SessionWire.text("secret")),
            ("md5 without terminator", .md5, SessionWire.text("md5abc")),
            ("SASL initial without mechanism terminator", .scramSHA256, SessionWire.text("SCRAM-SHA-256")),
            ("SASL initial without length", .scramSHA256, SessionWire.text("SCRAM-SHA-256\0")),
            ("SASL initial length beyond the body", .scramSHA256, SessionWire.text("SCRAM-SHA-256\0") + [0, 0, 0, 50] + SessionWire.text("n,,")),
            ("SASL initial negative length", .scramSHA256, SessionWire.text("SCRAM-SHA-256\0") + [0xFF, 0xFF, 0xFF, 0xFF]),
            ("invalid SASL mechanism", .scramSHA256, SessionWire.text("SCRAM-SHA-1\0") + [0, 0, 0, 3] + SessionWire.text("n,,")),
            ("malformed client-first-message", .scramSHA256, SessionWire.text("SCRAM-SHA-256\0") + [0, 0, 0, 7] + SessionWire.text("garbage")),
        ]
        for (label, method, body) in cases {
            var machine = ClientAuthMachine(method: method, user: "alice", secret: method == .scramSHA256 ? secret : .plain("secret"))
            _ = machine.start()
            assertRejected(machine.receive(password: ByteBuffer(bytes: body)), sqlState: "08P01", label)
            assertRejected(machine.receive(password: ByteBuffer(bytes: body)), sqlState: "08P01", "\(label), then anything more")
        }
    }

    func testMalformedClientFinalMessage() throws {
        var machine = ClientAuthMachine(method: .scramSHA256, user: "alice", secret: .scram(try pencilSecret()))
        _ = machine.start()
        let client = try SCRAMClientExchange(username: "", credential: .password("pencil"))
        var initial = ByteBuffer()
        initial.writeSASLInitialResponse(mechanism: "SCRAM-SHA-256", data: client.clientFirstMessage())
        _ = machine.receive(password: SessionWire.frames(SessionWire.bytes(initial))[0].body)
        assertRejected(machine.receive(password: ByteBuffer(bytes: SessionWire.text("c=biws,r=wrongnonce,p=AAAA"))),
                       sqlState: "08P01", "nonce of another exchange")
    }

    func testAuthorizationIdentityIsRefusedAsUnsupported() throws {
        var machine = ClientAuthMachine(method: .scramSHA256, user: "alice", secret: .scram(try pencilSecret()))
        _ = machine.start()
        let clientFirst = SessionWire.text("n,a=bob,n=,r=abcdefgh")
        let outcome = machine.receive(password: ByteBuffer(bytes: SessionWire.text("SCRAM-SHA-256\0") + SessionWire.int32(clientFirst.count) + clientFirst))
        assertRejected(outcome, sqlState: AuthError.unsupported(detail: "").sqlState, "authzid")
        guard case .reject(let fields) = outcome else { return }
        XCTAssertNotEqual(fields.message, Self.wrongPasswordMessage)
        XCTAssertEqual(fields["D"], "client uses authorization identity, but it is not supported")
    }

    func testPasswordBeforeStartIsAProtocolViolation() {
        var machine = ClientAuthMachine(method: .plain, user: "alice", secret: .plain("secret"))
        assertRejected(machine.receive(password: password("secret")), sqlState: "08P01", "before start")
    }
}
