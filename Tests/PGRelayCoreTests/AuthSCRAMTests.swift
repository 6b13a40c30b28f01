import XCTest

@testable import PGRelayCore

final class AuthSCRAMTests: XCTestCase {
    // RFC 7677 section 3: user "user", password "pencil".
    let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    let clientFinal =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    /// HMAC(SaltedPassword, "Client Key") for the RFC example, from Python's hmac/hashlib.
    let rfcClientKey = Array(Data(base64Encoded: "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=")!)

    var pencilSecret: SCRAMSecret { SCRAMSecret(parsing: AuthSecretTests.pencilSecret)! }

    // MARK: RFC 7677 test vector

    func testClientReproducesRFC7677() throws {
        var client = try SCRAMClientExchange(username: "user", credential: .password("pencil"), nonce: clientNonce)
        XCTAssertEqual(text(client.clientFirstMessage()), clientFirst)
        XCTAssertEqual(text(try client.receiveServerFirst(bytes(serverFirst))), clientFinal)
        XCTAssertFalse(client.isComplete)
        try client.receiveServerFinal(bytes(serverFinal))
        XCTAssertTrue(client.isComplete)
    }

    func testClientWithKeysReproducesRFC7677() throws {
        let credential = SCRAMCredential.keys(
            clientKey: rfcClientKey, serverKey: pencilSecret.serverKey, salt: pencilSecret.salt, iterations: 4096)
        var client = try SCRAMClientExchange(username: "user", credential: credential, nonce: clientNonce)
        XCTAssertEqual(text(try client.receiveServerFirst(bytes(serverFirst))), clientFinal)
        try client.receiveServerFinal(bytes(serverFinal))
        XCTAssertTrue(client.isComplete)
    }

    func testServerReproducesRFC7677() throws {
        var server = try SCRAMServerExchange(username: "user", secret: .scram(pencilSecret), nonce: serverNonce)
        XCTAssertEqual(text(try server.receiveClientFirst(bytes(clientFirst))), serverFirst)
        XCTAssertNil(server.recoveredClientKey)
        XCTAssertNil(server.passthroughCredential)
        XCTAssertEqual(text(try server.receiveClientFinal(bytes(clientFinal))), serverFinal)
        XCTAssertTrue(server.isComplete)
        XCTAssertEqual(server.recoveredClientKey, rfcClientKey)
        XCTAssertEqual(server.serverKey, pencilSecret.serverKey)
        XCTAssertEqual(
            server.passthroughCredential,
            .keys(clientKey: rfcClientKey, serverKey: pencilSecret.serverKey, salt: pencilSecret.salt, iterations: 4096))
    }

    // MARK: Round trips

    func testRoundTripWithPlainAndSCRAMSecrets() throws {
        let secrets: [(String, StoredSecret)] = [
            ("plain", .plain("pencil")),
            ("scram", .scram(pencilSecret)),
            ("plain non-ASCII (SASLprep on both sides)", .plain("p\u{00E4}ss\u{2168}")),
            ("scram with other iterations", .scram(try SCRAMSecret.make(password: "pencil", salt: [9, 9, 9], iterations: 10))),
        ]
        for (name, secret) in secrets {
            let password = name.contains("non-ASCII") ? "pa\u{0308}ssIX" : "pencil"
            var server = try SCRAMServerExchange(username: "alice", secret: secret)
            var client = try SCRAMClientExchange(username: "alice", credential: .password(password))
            try exchange(&client, &server)
            XCTAssertTrue(client.isComplete, name)
            XCTAssertTrue(server.isComplete, name)
        }
    }

    func testPlainSecretExposesPasswordAndReusesDerivation() throws {
        let cache = PBKDF2Cache(capacity: 4)
        for _ in 0..<3 {
            var server = try SCRAMServerExchange(username: "alice", secret: .plain("pencil"), cache: cache)
            var client = try SCRAMClientExchange(username: "alice", credential: .password("pencil"), cache: cache)
            try exchange(&client, &server)
            XCTAssertEqual(server.passthroughCredential, .password("pencil"))
        }
        // One derivation for the server's secret; the client reuses it (same salt and iterations).
        XCTAssertEqual(cache.derivations, 1)
    }

    func testPlainSecretSaltDiffersPerUser() throws {
        var alice = try SCRAMServerExchange(username: "alice", secret: .plain("same"))
        var bob = try SCRAMServerExchange(username: "bob", secret: .plain("same"))
        let first = Array("n,,n=,r=abc".utf8)
        XCTAssertNotEqual(salt(of: try alice.receiveClientFirst(first)), salt(of: try bob.receiveClientFirst(first)))
    }

    /// Client logs in to the proxy; the proxy recovers the ClientKey and logs in to a server that
    /// holds the same SCRAM secret, without ever knowing the password.
    func testKeysPassthroughToSecondServer() throws {
        let secret = try SCRAMSecret.make(password: "s3cret", salt: Array("0123456789abcdef".utf8), iterations: 4096)
        var proxyAsServer = try SCRAMServerExchange(username: "alice", secret: .scram(secret))
        var application = try SCRAMClientExchange(username: "alice", credential: .password("s3cret"))
        try exchange(&application, &proxyAsServer)
        let credential = try XCTUnwrap(proxyAsServer.passthroughCredential)

        var postgres = try SCRAMServerExchange(username: "alice", secret: .scram(secret))
        var proxyAsClient = try SCRAMClientExchange(username: "alice", credential: credential)
        try exchange(&proxyAsClient, &postgres)
        XCTAssertTrue(proxyAsClient.isComplete)
        XCTAssertTrue(postgres.isComplete)

        // The same password under another salt (or iteration count) is another secret: the keys
        // cannot work there, and the client says so instead of sending a doomed proof.
        for other in [
            try SCRAMSecret.make(password: "s3cret", salt: Array("fedcba9876543210".utf8), iterations: 4096),
            try SCRAMSecret.make(password: "s3cret", salt: Array("0123456789abcdef".utf8), iterations: 4097),
        ] {
            var otherServer = try SCRAMServerExchange(username: "alice", secret: .scram(other))
            var proxy = try SCRAMClientExchange(username: "alice", credential: credential)
            let serverFirst = try otherServer.receiveClientFirst(proxy.clientFirstMessage())
            XCTAssertThrowsError(try proxy.receiveServerFirst(serverFirst)) {
                XCTAssertEqual($0 as? AuthError, .passthroughKeysMismatch(user: "alice"))
            }
        }
    }

    func testWrongPasswordIs28P01() throws {
        let secrets: [StoredSecret] = [.plain("pencil"), .scram(pencilSecret)]
        for secret in secrets {
            var server = try SCRAMServerExchange(username: "alice", secret: secret)
            var client = try SCRAMClientExchange(username: "alice", credential: .password("pencil!"))
            XCTAssertThrowsError(try exchange(&client, &server)) { error in
                XCTAssertEqual(error as? AuthError, .wrongPassword(user: "alice"))
                XCTAssertEqual((error as? AuthError)?.sqlState, "28P01")
                XCTAssertEqual((error as? AuthError)?.message, "password authentication failed for user \"alice\"")
            }
            XCTAssertNil(server.recoveredClientKey)
            XCTAssertNil(server.passthroughCredential)
        }
    }

    /// Unknown users and MD5 secrets get a plausible exchange that fails at the end, as in
    /// PostgreSQL, even with the "right" password.
    func testDoomedExchangesLookRealAndFail() throws {
        let md5 = MD5Password.hash(password: "pencil", user: "alice")
        for (secret, password) in [(nil, "pencil"), (StoredSecret.md5(md5), "pencil"), (StoredSecret.plain(""), "")] {
            var server = try SCRAMServerExchange(username: "alice", secret: secret)
            var client = try SCRAMClientExchange(username: "alice", credential: .password(password))
            let serverFirst = try server.receiveClientFirst(client.clientFirstMessage())
            XCTAssertEqual(salt(of: serverFirst).count, 16)
            XCTAssertTrue(text(serverFirst).hasSuffix(",i=4096"))
            let clientFinal = try client.receiveServerFirst(serverFirst)
            XCTAssertThrowsError(try server.receiveClientFinal(clientFinal)) {
                XCTAssertEqual($0 as? AuthError, .wrongPassword(user: "alice"))
            }
        }
        // The mock salt is stable per user, so probing twice reveals nothing.
        var first = try SCRAMServerExchange(username: "ghost", secret: nil)
        var second = try SCRAMServerExchange(username: "ghost", secret: nil)
        let message = Array("n,,n=,r=abc".utf8)
        XCTAssertEqual(salt(of: try first.receiveClientFirst(message)), salt(of: try second.receiveClientFirst(message)))
    }

    // MARK: Server side: accepted variants

    func testServerAcceptsGS2VariantsAndIgnoresUserNameAndExtensions() throws {
        let cases: [(first: String, binding: String)] = [
            ("n,,n=,r=abc", "biws"),
            ("y,,n=,r=abc", "eSws"),  // client supports binding but thinks we do not: fine
            ("n,,n=somebody-else,r=abc", "biws"),  // n= is ignored, as in PostgreSQL
            ("n,,n=user,r=abc,x=extension", "biws"),
        ]
        for testCase in cases {
            var server = try SCRAMServerExchange(username: "user", secret: .scram(pencilSecret), nonce: "SRV")
            let first = try server.receiveClientFirst(bytes(testCase.first))
            XCTAssertEqual(text(first), "r=abcSRV,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", testCase.first)
            // Compute the proof as a client would for this exact exchange.
            let bare = testCase.first.dropFirst(3)
            let withoutProof = "c=\(testCase.binding),r=abcSRV,x=ext"
            let authMessage = Array("\(bare),\(text(first)),\(withoutProof)".utf8)
            let signature = SCRAMPrimitives.hmac(key: pencilSecret.storedKey, authMessage)
            let proof = SCRAMPrimitives.xor(rfcClientKey, signature)
            let final = "\(withoutProof),p=\(Data(proof).base64EncodedString())"
            let serverFinal = try server.receiveClientFinal(bytes(final))
            let expected = SCRAMPrimitives.hmac(key: pencilSecret.serverKey, authMessage)
            XCTAssertEqual(text(serverFinal), "v=\(Data(expected).base64EncodedString())", testCase.first)
        }
    }

    // MARK: Server side: malformed input

    func testServerRejectsMalformedClientFirst() throws {
        let cases: [(name: String, message: [UInt8], error: AuthError)] = [
            ("empty", [], .protocolViolation(detail: "empty client-first-message")),
            ("channel binding requested", bytes("p=tls-server-end-point,,n=,r=abc"),
             .protocolViolation(detail: "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data (the proxy does not offer SCRAM-SHA-256-PLUS)")),
            ("unknown flag", bytes("x,,n=,r=abc"), .protocolViolation(detail: "unexpected channel-binding flag in client-first-message")),
            ("flag only", bytes("n"), .protocolViolation(detail: "comma expected after channel-binding flag")),
            ("one comma", bytes("n,"), .protocolViolation(detail: "unexpected attribute in client-first-message")),
            ("authzid", bytes("n,a=admin,n=,r=abc"), .unsupported(detail: "client uses authorization identity, but it is not supported")),
            ("garbage authzid", bytes("n,zz,n=,r=abc"), .protocolViolation(detail: "unexpected attribute in client-first-message")),
            ("mandatory extension", bytes("n,,m=ext,n=,r=abc"), .unsupported(detail: "client requires an unsupported SCRAM extension")),
            ("missing n", bytes("n,,r=abc"), .protocolViolation(detail: "expected attribute \"n\" in client-first-message")),
            ("missing r", bytes("n,,n="), .protocolViolation(detail: "expected attribute \"r\" in client-first-message")),
            ("empty nonce", bytes("n,,n=,r="), .protocolViolation(detail: "invalid nonce in client-first-message")),
            ("nonce with space", bytes("n,,n=,r=a b"), .protocolViolation(detail: "invalid nonce in client-first-message")),
            ("attribute without =", bytes("n,,n,r=abc"), .protocolViolation(detail: "malformed attribute in client-first-message")),
            ("empty attribute", bytes("n,,n=,,r=abc"), .protocolViolation(detail: "malformed attribute in client-first-message")),
            ("invalid UTF-8", [0x6E, 0x2C, 0x2C, 0xFF, 0xFE], .protocolViolation(detail: "client-first-message is not valid UTF-8 text")),
            ("NUL byte", bytes("n,,n=\u{0},r=abc"), .protocolViolation(detail: "client-first-message is not valid UTF-8 text")),
            ("huge", bytes("n,,n=,r=" + String(repeating: "a", count: 70_000)), .protocolViolation(detail: "client-first-message is too long")),
        ]
        for testCase in cases {
            var server = try SCRAMServerExchange(username: "user", secret: .scram(pencilSecret))
            XCTAssertThrowsError(try server.receiveClientFirst(testCase.message), testCase.name) {
                XCTAssertEqual($0 as? AuthError, testCase.error, testCase.name)
            }
            // A failed exchange stays failed.
            XCTAssertThrowsError(try server.receiveClientFinal(bytes(clientFinal)), testCase.name)
            XCTAssertFalse(server.isComplete, testCase.name)
        }
    }

    func testServerRejectsMalformedClientFinal() throws {
        let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        let cases: [(name: String, message: String, error: AuthError)] = [
            ("empty", "", .protocolViolation(detail: "empty client-final-message")),
            ("missing c", "r=\(nonce),p=\(proof)", .protocolViolation(detail: "expected attribute \"c\" in client-final-message")),
            ("binding y after n", "c=eSws,r=\(nonce),p=\(proof)", .protocolViolation(detail: "unexpected SCRAM channel-binding attribute in client-final-message")),
            ("binding data", "c=cD10bHMtdW5pcXVlLCw=,r=\(nonce),p=\(proof)", .protocolViolation(detail: "unexpected SCRAM channel-binding attribute in client-final-message")),
            ("missing r", "c=biws,p=\(proof)", .protocolViolation(detail: "expected attribute \"r\" in client-final-message")),
            ("wrong nonce", "c=biws,r=\(clientNonce)XYZ,p=\(proof)", .protocolViolation(detail: "SCRAM nonce mismatch in client-final-message")),
            ("client nonce only", "c=biws,r=\(clientNonce),p=\(proof)", .protocolViolation(detail: "SCRAM nonce mismatch in client-final-message")),
            ("missing p", "c=biws,r=\(nonce)", .protocolViolation(detail: "expected attribute \"p\" in client-final-message")),
            ("garbage after p", "c=biws,r=\(nonce),p=\(proof),x=1", .protocolViolation(detail: "garbage at end of client-final-message")),
            ("bad base64 proof", "c=biws,r=\(nonce),p=***", .protocolViolation(detail: "invalid ClientProof in client-final-message")),
            ("short proof", "c=biws,r=\(nonce),p=c2hvcnQ=", .protocolViolation(detail: "invalid ClientProof in client-final-message")),
            ("empty proof", "c=biws,r=\(nonce),p=", .protocolViolation(detail: "invalid ClientProof in client-final-message")),
            ("reordered", "r=\(nonce),c=biws,p=\(proof)", .protocolViolation(detail: "expected attribute \"c\" in client-final-message")),
            ("proof of another password", "c=biws,r=\(nonce),p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", .wrongPassword(user: "user")),
        ]
        for testCase in cases {
            var server = try SCRAMServerExchange(username: "user", secret: .scram(pencilSecret), nonce: serverNonce)
            _ = try server.receiveClientFirst(bytes(clientFirst))
            XCTAssertThrowsError(try server.receiveClientFinal(bytes(testCase.message)), testCase.name) {
                XCTAssertEqual($0 as? AuthError, testCase.error, testCase.name)
            }
            XCTAssertNil(server.recoveredClientKey, testCase.name)
            XCTAssertThrowsError(try server.receiveClientFinal(bytes(clientFinal)), testCase.name)
        }
    }

    func testServerRejectsOutOfOrderMessagesAndBadNonces() throws {
        var server = try SCRAMServerExchange(username: "user", secret: .scram(pencilSecret), nonce: serverNonce)
        XCTAssertThrowsError(try server.receiveClientFinal(bytes(clientFinal))) {
            XCTAssertEqual($0 as? AuthError, .protocolViolation(detail: "unexpected SCRAM client-final-message"))
        }
        var again = try SCRAMServerExchange(username: "user", secret: .scram(pencilSecret), nonce: serverNonce)
        _ = try again.receiveClientFirst(bytes(clientFirst))
        XCTAssertThrowsError(try again.receiveClientFirst(bytes(clientFirst))) {
            XCTAssertEqual($0 as? AuthError, .protocolViolation(detail: "unexpected SCRAM client-first-message"))
        }
        for badNonce in ["", "a,b", "a b", "\u{00E4}"] {
            XCTAssertThrowsError(try SCRAMServerExchange(username: "u", secret: nil, nonce: badNonce))
            XCTAssertThrowsError(try SCRAMClientExchange(username: "u", credential: .password("p"), nonce: badNonce))
        }
    }

    // MARK: Client side: malformed input

    func testClientRejectsMalformedServerFirst() throws {
        let nonce = "\(clientNonce)SRV"
        let cases: [(name: String, message: String, error: AuthError)] = [
            ("empty", "", .protocolViolation(detail: "empty server-first-message")),
            ("garbage", "hello", .protocolViolation(detail: "malformed attribute in server-first-message")),
            ("mandatory extension", "m=x,r=\(nonce),s=AAAA,i=1", .unsupported(detail: "server requires an unsupported SCRAM extension")),
            ("missing nonce", "s=AAAA,i=4096", .protocolViolation(detail: "expected attribute \"r\" in server-first-message")),
            ("foreign nonce", "r=SomethingElse123,s=AAAA,i=4096", .protocolViolation(detail: "SCRAM nonce mismatch in server-first-message")),
            ("nonce without server part", "r=\(clientNonce),s=AAAA,i=4096", .protocolViolation(detail: "SCRAM nonce mismatch in server-first-message")),
            ("truncated nonce", "r=rOprNG,s=AAAA,i=4096", .protocolViolation(detail: "SCRAM nonce mismatch in server-first-message")),
            ("missing salt", "r=\(nonce),i=4096", .protocolViolation(detail: "expected attribute \"s\" in server-first-message")),
            ("bad base64 salt", "r=\(nonce),s=!!!,i=4096", .protocolViolation(detail: "invalid SCRAM salt in server-first-message")),
            ("unpadded salt", "r=\(nonce),s=AAA,i=4096", .protocolViolation(detail: "invalid SCRAM salt in server-first-message")),
            ("empty salt", "r=\(nonce),s=,i=4096", .protocolViolation(detail: "invalid SCRAM salt in server-first-message")),
            ("missing iterations", "r=\(nonce),s=AAAA", .protocolViolation(detail: "expected attribute \"i\" in server-first-message")),
            ("zero iterations", "r=\(nonce),s=AAAA,i=0", .protocolViolation(detail: "invalid SCRAM iteration count in server-first-message")),
            ("negative iterations", "r=\(nonce),s=AAAA,i=-4096", .protocolViolation(detail: "invalid SCRAM iteration count in server-first-message")),
            ("huge iterations", "r=\(nonce),s=AAAA,i=10000001", .protocolViolation(detail: "invalid SCRAM iteration count in server-first-message")),
            ("overflowing iterations", "r=\(nonce),s=AAAA,i=99999999999999999999999", .protocolViolation(detail: "invalid SCRAM iteration count in server-first-message")),
            ("non-numeric iterations", "r=\(nonce),s=AAAA,i=4k", .protocolViolation(detail: "invalid SCRAM iteration count in server-first-message")),
            ("non-ASCII digits", "r=\(nonce),s=AAAA,i=\u{0664}\u{0660}", .protocolViolation(detail: "invalid SCRAM iteration count in server-first-message")),
        ]
        let cache = PBKDF2Cache(capacity: 4)
        for testCase in cases {
            var client = try SCRAMClientExchange(username: "user", credential: .password("pencil"), nonce: clientNonce, cache: cache)
            XCTAssertThrowsError(try client.receiveServerFirst(bytes(testCase.message)), testCase.name) {
                XCTAssertEqual($0 as? AuthError, testCase.error, testCase.name)
            }
            XCTAssertThrowsError(try client.receiveServerFinal(bytes(serverFinal)), testCase.name)
        }
        XCTAssertEqual(cache.derivations, 0, "no derivation for a rejected message")
    }

    func testClientChecksServerFinal() throws {
        let cases: [(name: String, message: [UInt8], error: AuthError)] = [
            ("server error", bytes("e=invalid-proof"), .server("invalid-proof")),
            ("wrong signature", bytes("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), .serverSignatureMismatch),
            ("short signature", bytes("v=AAAA"), .serverSignatureMismatch),
            ("bad base64", bytes("v=???"), .protocolViolation(detail: "invalid ServerSignature in server-final-message")),
            ("missing v", bytes("x=1"), .protocolViolation(detail: "expected attribute \"v\" in server-final-message")),
            ("empty", [], .protocolViolation(detail: "empty server-final-message")),
            ("invalid UTF-8", [0x76, 0x3D, 0xC3], .protocolViolation(detail: "server-final-message is not valid UTF-8 text")),
        ]
        for testCase in cases {
            var client = try SCRAMClientExchange(username: "user", credential: .password("pencil"), nonce: clientNonce)
            _ = try client.receiveServerFirst(bytes(serverFirst))
            XCTAssertThrowsError(try client.receiveServerFinal(testCase.message), testCase.name) {
                XCTAssertEqual($0 as? AuthError, testCase.error, testCase.name)
            }
            XCTAssertFalse(client.isComplete, testCase.name)
        }
        var early = try SCRAMClientExchange(username: "user", credential: .password("pencil"))
        XCTAssertThrowsError(try early.receiveServerFinal(bytes(serverFinal))) {
            XCTAssertEqual($0 as? AuthError, .protocolViolation(detail: "unexpected SCRAM server-final-message"))
        }
    }

    func testClientEscapesUserNameAndRejectsBadKeys() throws {
        let client = try SCRAMClientExchange(username: "a=b,c", credential: .password("p"), nonce: "N")
        XCTAssertEqual(text(client.clientFirstMessage()), "n,,n=a=3Db=2Cc,r=N")

        let badKeys = SCRAMCredential.keys(clientKey: [1, 2, 3], serverKey: pencilSecret.serverKey, salt: pencilSecret.salt, iterations: 4096)
        var withBadKeys = try SCRAMClientExchange(username: "user", credential: badKeys, nonce: clientNonce)
        XCTAssertThrowsError(try withBadKeys.receiveServerFirst(bytes(serverFirst))) {
            XCTAssertEqual($0 as? AuthError, .passthroughKeysMismatch(user: "user"))
        }
    }

    // MARK: scram_iterations

    func testIterationsApplyToSecretsBuiltFromPlainPasswordsOnly() throws {
        let cases: [(name: String, secret: StoredSecret?, iterations: Int, expected: String)] = [
            ("plain password", .plain("pencil"), 10, "i=10"),
            ("plain password, default", .plain("pencil"), SCRAMServerExchange.defaultIterations, "i=4096"),
            ("unknown user looks alike", nil, 10, "i=10"),
            ("stored SCRAM secret keeps its own", .scram(pencilSecret), 10, "i=4096"),
        ]
        for (name, secret, iterations, expected) in cases {
            var server = try SCRAMServerExchange(username: "user", secret: secret, iterations: iterations,
                                                 cache: PBKDF2Cache(capacity: 2))
            let client = try SCRAMClientExchange(username: "user", credential: .password("pencil"), nonce: clientNonce)
            let serverFirst = text(try server.receiveClientFirst(client.clientFirstMessage()))
            XCTAssertEqual(serverFirst.split(separator: ",").last.map(String.init), expected, name)
        }
        // The whole exchange works with a plain password and few iterations.
        var server = try SCRAMServerExchange(username: "alice", secret: .plain("pencil"), iterations: 10)
        var client = try SCRAMClientExchange(username: "alice", credential: .password("pencil"))
        try exchange(&client, &server)
        XCTAssertTrue(server.isComplete)
    }

    func testIterationsOutOfRangeAreRefusedForPlainPasswords() {
        for iterations in [0, -1, PBKDF2Cache.maximumIterations + 1] {
            XCTAssertThrowsError(try SCRAMServerExchange(username: "alice", secret: .plain("pencil"), iterations: iterations),
                                 "\(iterations)")
        }
    }

    // MARK: Helpers

    /// Runs a whole exchange, as the proxy's handlers would pass the messages along.
    private func exchange(_ client: inout SCRAMClientExchange, _ server: inout SCRAMServerExchange) throws {
        let serverFirst = try server.receiveClientFirst(client.clientFirstMessage())
        let clientFinal = try client.receiveServerFirst(serverFirst)
        let serverFinal = try server.receiveClientFinal(clientFinal)
        try client.receiveServerFinal(serverFinal)
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    private func salt(of serverFirst: [UInt8]) -> [UInt8] {
        let attribute = text(serverFirst).split(separator: ",").first { $0.hasPrefix("s=") } ?? ""
        return Array(Data(base64Encoded: String(attribute.dropFirst(2))) ?? Data())
    }
}
