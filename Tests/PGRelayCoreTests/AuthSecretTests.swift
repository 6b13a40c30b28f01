import XCTest

@testable import PGRelayCore

final class AuthSecretTests: XCTestCase {
    /// RFC 7677's user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, computed
    /// independently with Python's hashlib.pbkdf2_hmac.
    static let pencilSecret =
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    static let pencilSalt = Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)

    func testMakeMatchesIndependentComputationAndRoundTrips() throws {
        let made = try SCRAMSecret.make(password: "pencil", salt: Self.pencilSalt, iterations: 4096)
        XCTAssertEqual(made.formatted, Self.pencilSecret)
        XCTAssertEqual(SCRAMSecret(parsing: Self.pencilSecret), made)
        XCTAssertEqual(made.iterations, 4096)
        XCTAssertEqual(made.salt, Self.pencilSalt)
    }

    func testClassification() {
        let md5 = "md520c46e3762c864548e296b33c3406aa9"
        let cases: [(String, StoredSecret)] = [
            ("pencil", .plain("pencil")),
            ("", .plain("")),
            (md5, .md5(md5)),
            ("MD520c46e3762c864548e296b33c3406aa9", .plain("MD520c46e3762c864548e296b33c3406aa9")),
            // Uppercase hex, wrong length or non-hex: plain, as in PgBouncer's get_password_type.
            ("md520C46E3762C864548E296B33C3406AA9", .plain("md520C46E3762C864548E296B33C3406AA9")),
            ("md520c46e3762c864548e296b33c3406aa", .plain("md520c46e3762c864548e296b33c3406aa")),
            ("md520c46e3762c864548e296b33c3406aaz", .plain("md520c46e3762c864548e296b33c3406aaz")),
            (Self.pencilSecret, .scram(SCRAMSecret(parsing: Self.pencilSecret)!)),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(StoredSecret(parsing: text), expected, text)
            XCTAssertEqual(StoredSecret(parsing: text).formatted, text)
        }
    }

    func testMalformedSCRAMSecretsAreTreatedAsPlainPasswords() {
        let stored = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
        let server = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        let malformed = [
            "SCRAM-SHA-256$",
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored)",  // no server key
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored):",  // empty server key
            "SCRAM-SHA-256$abc:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored):\(server)",  // iterations
            "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored):\(server)",
            "SCRAM-SHA-256$-1:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored):\(server)",
            "SCRAM-SHA-256$99999999999:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored):\(server)",
            "SCRAM-SHA-256$4096:$\(stored):\(server)",  // empty salt
            "SCRAM-SHA-256$4096:not*base64$\(stored):\(server)",
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$c2hvcnQ=:\(server)",  // 5-byte stored key
            "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored):\(server)",
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored):\(server)$extra",
            "scram-sha-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\(stored):\(server)",
        ]
        for text in malformed {
            XCTAssertNil(SCRAMSecret(parsing: text), text)
            XCTAssertEqual(StoredSecret(parsing: text), .plain(text), text)
        }
    }

    func testDescriptionsNeverRevealSecrets() throws {
        let scram = try XCTUnwrap(SCRAMSecret(parsing: Self.pencilSecret))
        let values: [Any] = [
            StoredSecret.plain("hunter2"), StoredSecret.md5("md520c46e3762c864548e296b33c3406aa9"),
            StoredSecret.scram(scram), scram, SCRAMCredential.password("hunter2"),
            SCRAMCredential.keys(clientKey: scram.storedKey, serverKey: scram.serverKey, salt: scram.salt, iterations: 4096),
        ]
        for value in values {
            for text in [String(describing: value), String(reflecting: value), "\(value)"] {
                XCTAssertFalse(text.contains("hunter2"), text)
                XCTAssertFalse(text.contains("20c46e37"), text)
                XCTAssertFalse(text.contains("W22ZaJ0S"), text)
                XCTAssertFalse(text.contains("WG5d8oPm"), text)
            }
            var dumped = ""
            dump(value, to: &dumped)
            XCTAssertFalse(dumped.contains("hunter2"), dumped)
            XCTAssertFalse(dumped.contains("88, 110"), dumped)  // bytes of the stored key
        }
    }

    func testAuthErrorsMapToPostgreSQLCodesAndMessages() {
        let cases: [(AuthError, String, String)] = [
            (.wrongPassword(user: "alice"), "28P01", "password authentication failed for user \"alice\""),
            (.protocolViolation(detail: "x"), "08P01", "malformed SCRAM message"),
            (.unsupported(detail: "x"), "28000", "unsupported SCRAM authentication request"),
            (.server("invalid-proof"), "28000", "SCRAM authentication failed on the server: invalid-proof"),
            (.serverSignatureMismatch, "28000", "incorrect server signature in SCRAM exchange"),
        ]
        for (error, code, message) in cases {
            XCTAssertEqual(error.sqlState, code)
            XCTAssertEqual(error.message, message)
        }
        XCTAssertEqual(AuthError.protocolViolation(detail: "why").description, "malformed SCRAM message (why)")
        XCTAssertEqual(AuthError.passthroughKeysMismatch(user: "bob").sqlState, "28000")
    }
}
