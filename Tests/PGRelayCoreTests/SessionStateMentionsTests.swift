import XCTest
@testable import PGRelayCore

final class SessionStateMentionsTests: XCTestCase {
    func testFindsEveryStatementTheClassifierFlags() {
        let cases: [(String, Bool)] = [
            ("LISTEN channel", true),
            ("listen channel", true),
            ("SELECT pg_advisory_lock(1)", true),
            ("select PG_TRY_ADVISORY_LOCK(7)", true),
            ("DECLARE c CURSOR WITH HOLD FOR SELECT 1", true),
            ("declare c cursor with hold for select 1", true),
            ("SELECT abalance FROM pgbench_accounts WHERE aid = 42", false),
            ("BEGIN", false),
            ("UPDATE t SET a = 1", false),
            ("", false),
            ("hol", false),
            ("LISTE", false),
            ("advisor", false),
            ("SELECT 'hold'", true),  // a mention is enough; the classifier decides
            ("SELECT 1 /* Listen */", true),
        ]
        for (sql, expected) in cases {
            XCTAssertEqual(SessionStateMentions.mayMention(Array(sql.utf8)), expected, sql)
            XCTAssertEqual(SessionStateMentions.mayMention(sql.utf8), expected, sql)
        }
    }

    func testNeverMissesWhatTheClassifierSeesAsSessionState() {
        let classifier = SQLClassifier()
        let statements = [
            "LISTEN a", "SELECT pg_advisory_lock(1)", "SELECT pg_try_advisory_lock(1)",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "SELECT 1", "SET search_path = x", "BEGIN",
        ]
        for sql in statements {
            let classification = classifier.classify(sql)
            let uses = classification.isListen || sql.uppercased().contains("ADVISORY") || sql.uppercased().contains("WITH HOLD")
            if uses { XCTAssertTrue(SessionStateMentions.mayMention(Array(sql.utf8)), sql) }
        }
    }

    func testNonASCIIBytesNeverMatch() {
        // Bytes that become a needle letter when bit 0x20 is set are only the upper-case letters.
        var bytes: [UInt8] = []
        for byte in UInt8(0)...UInt8(255) where byte != UInt8(ascii: "L") && byte != UInt8(ascii: "l") { bytes.append(byte) }
        XCTAssertFalse(SessionStateMentions.mayMention(bytes + Array("isten".utf8)))
        XCTAssertTrue(SessionStateMentions.mayMention(bytes + Array("Listen".utf8)))
    }
}
