import XCTest

@testable import PGRelayCore

final class AuthMD5Tests: XCTestCase {
    // Computed independently with Python:
    //   "md5" + hashlib.md5(b"pencil" + b"user").hexdigest()
    //   "md5" + hashlib.md5(b"20c46e...aa9" + bytes([1, 2, 3, 4])).hexdigest()
    let pencilHash = "md520c46e3762c864548e296b33c3406aa9"
    let pencilResponse = "md54376eb6913b38f9aaff38dc7cf19ca76"
    let salt: [UInt8] = [1, 2, 3, 4]

    func testHashAndResponseMatchIndependentValues() {
        XCTAssertEqual(MD5Password.hash(password: "pencil", user: "user"), pencilHash)
        XCTAssertEqual(MD5Password.response(hashedSecret: pencilHash, salt: salt), pencilResponse)
    }

    func testResponseForStoredSecrets() throws {
        let scram = try XCTUnwrap(SCRAMSecret(parsing: AuthSecretTests.pencilSecret))
        XCTAssertEqual(MD5Password.response(for: .plain("pencil"), user: "user", salt: salt), pencilResponse)
        XCTAssertEqual(MD5Password.response(for: .md5(pencilHash), user: "user", salt: salt), pencilResponse)
        XCTAssertNil(MD5Password.response(for: .scram(scram), user: "user", salt: salt))
        XCTAssertNil(MD5Password.response(for: .plain(""), user: "user", salt: salt))
        XCTAssertTrue(StoredSecret.plain("pencil").canVerifyMD5)
        XCTAssertTrue(StoredSecret.md5(pencilHash).canVerifyMD5)
        XCTAssertFalse(StoredSecret.scram(scram).canVerifyMD5)
    }

    func testVerify() throws {
        let scram = try XCTUnwrap(SCRAMSecret(parsing: AuthSecretTests.pencilSecret))
        let cases: [(name: String, response: String, secret: StoredSecret, user: String, expected: Bool)] = [
            ("plain secret", pencilResponse, .plain("pencil"), "user", true),
            ("md5 secret", pencilResponse, .md5(pencilHash), "user", true),
            ("wrong password", pencilResponse, .plain("pencil2"), "user", false),
            ("other user (the user salts the hash)", pencilResponse, .plain("pencil"), "user2", false),
            ("wrong md5 secret", pencilResponse, .md5("md5" + String(repeating: "0", count: 32)), "user", false),
            ("uppercase response", pencilResponse.uppercased(), .plain("pencil"), "user", false),
            ("empty response", "", .plain("pencil"), "user", false),
            ("cleartext sent instead", "pencil", .plain("pencil"), "user", false),
            ("SCRAM secret cannot verify md5", pencilResponse, .scram(scram), "user", false),
            ("empty password never accepted", MD5Password.response(hashedSecret: MD5Password.hash(password: "", user: "user"), salt: salt), .plain(""), "user", false),
        ]
        for testCase in cases {
            XCTAssertEqual(
                MD5Password.verify(
                    clientResponse: testCase.response, secret: testCase.secret, user: testCase.user, salt: salt),
                testCase.expected, testCase.name)
        }
        XCTAssertFalse(
            MD5Password.verify(clientResponse: pencilResponse, secret: .plain("pencil"), user: "user", salt: [1, 2, 3, 5]))
    }
}
