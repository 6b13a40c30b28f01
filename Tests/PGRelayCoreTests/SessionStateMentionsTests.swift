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

    func testWordAtATimeScanAgreesWithByteByByteAtEveryAlignment() {
        // Needles straddling, starting and ending each 8-byte word, in both letter cases,
        // next to bytes that differ from a needle letter only in bit 0x20 or in the high bit.
        let needles = ["listen", "LISTEN", "Advisory", "advisory", "hold", "HOLD", "hol", "liste", "advisor"]
        let fillers: [UInt8] = [UInt8(ascii: " "), UInt8(ascii: "x"), 0x4C ^ 0x80, 0x0C, 0xEC, UInt8(ascii: "L"), 0x00]
        var checked = 0, found = 0
        for needle in needles {
            for filler in fillers {
                for before in 0 ... 17 {
                    for after in [0, 1, 7, 9] {
                        let bytes = [UInt8](repeating: filler, count: before) + Array(needle.utf8) + [UInt8](repeating: filler, count: after)
                        bytes.withUnsafeBytes { raw in
                            let fast = SessionStateMentions.mayMention(raw)
                            XCTAssertEqual(fast, SessionStateMentions.mayMentionByteByByte(raw), "\(needle) after \(before) × \(filler)")
                            if fast { found += 1 }
                        }
                        checked += 1
                    }
                }
            }
        }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("lLaAhHistenvoryd xX_0\u{0C}".utf8) + [0xCC, 0xEC, 0x4C]
        for _ in 0 ..< 3000 {
            let bytes = (0 ..< Int.random(in: 0 ... 40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            bytes.withUnsafeBytes { raw in
                let fast = SessionStateMentions.mayMention(raw)
                XCTAssertEqual(fast, SessionStateMentions.mayMentionByteByByte(raw), "\(bytes)")
                if fast { found += 1 }
            }
            checked += 1
        }
        // Both answers take part: a scan that always said no (or yes) would not pass.
        XCTAssertGreaterThan(found, 500)
        XCTAssertLessThan(found, checked - 500)
    }
}
