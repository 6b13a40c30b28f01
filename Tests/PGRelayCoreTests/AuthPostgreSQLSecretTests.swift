import XCTest

@testable import PGRelayCore

/// Secrets produced by a real PostgreSQL 15 (`CREATE ROLE ... PASSWORD`, then
/// `SELECT rolname, rolpassword FROM pg_authid`), checked against the passwords they were made from.
final class AuthPostgreSQLSecretTests: XCTestCase {
    let fixtures: [(user: String, password: String, rolpassword: String)] = [
        (
            "alice", "pencil",
            "SCRAM-SHA-256$4096:nh7hqbARV/yfX7AvqtXHYg==$6c/g1eDJt7MXIxAi05/QQKUIUIkqVsKfcpKpkU5CgsI=:7VIdXS3+6s1NEMwDwrEZwGdUT/hhBiKkdBT5gB68mVo="
        ),
        (
            "bob", "p\u{00E4}ssw\u{00F6}rd",
            "SCRAM-SHA-256$4096:BXEQFl5BfJGyfhbLIakWXQ==$DHtiYD7HRoepjE3gZiFooNVcdWYDV1J8LWqYgJUCP4o=:NONsrR1XfTcpN0mPIOdjEBqJy9FKwSPXbfE0jpIP4zU="
        ),
        ("carol", "pencil", "md5bd9b2f028f0da30651d603cf780feee9"),
    ]

    func testSecretsParseAndRecomputeFromPassword() throws {
        for fixture in fixtures {
            switch StoredSecret(parsing: fixture.rolpassword) {
            case .scram(let secret):
                XCTAssertEqual(secret.formatted, fixture.rolpassword, fixture.user)
                let recomputed = try SCRAMSecret.make(
                    password: fixture.password, salt: secret.salt, iterations: secret.iterations)
                XCTAssertEqual(recomputed, secret, fixture.user)
            case .md5(let hash):
                XCTAssertEqual(MD5Password.hash(password: fixture.password, user: fixture.user), hash)
            case .plain:
                XCTFail("\(fixture.user): PostgreSQL's secret classified as a plain password")
            }
        }
    }

    func testSCRAMLoginsWithRightAndWrongPasswords() throws {
        // The decomposed spelling of bob's password is the same password after SASLprep.
        let attempts: [(user: String, password: String, succeeds: Bool)] = [
            ("alice", "pencil", true),
            ("alice", "Pencil", false),
            ("bob", "p\u{00E4}ssw\u{00F6}rd", true),
            ("bob", "pa\u{0308}sswo\u{0308}rd", true),
            ("bob", "passwort", false),
        ]
        for attempt in attempts {
            let rolpassword = try XCTUnwrap(fixtures.first { $0.user == attempt.user }?.rolpassword)
            var server = try SCRAMServerExchange(username: attempt.user, secret: StoredSecret(parsing: rolpassword))
            var client = try SCRAMClientExchange(username: attempt.user, credential: .password(attempt.password))
            let clientFinal = try client.receiveServerFirst(server.receiveClientFirst(client.clientFirstMessage()))
            do {
                try client.receiveServerFinal(server.receiveClientFinal(clientFinal))
                XCTAssertTrue(attempt.succeeds, "\(attempt.user) logged in with a wrong password")
            } catch let error as AuthError {
                XCTAssertFalse(attempt.succeeds, "\(attempt.user): \(error)")
                XCTAssertEqual(error, .wrongPassword(user: attempt.user))
            }
        }
    }
}
