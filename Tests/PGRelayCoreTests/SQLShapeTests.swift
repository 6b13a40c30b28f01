import XCTest
@testable import PGRelayCore

final class SQLShapeTests: XCTestCase {
    private func shape(_ sql: String) -> UInt64 {
        Array(sql.utf8).withUnsafeBytes { SQLShape.hash(utf8: $0) }
    }

    /// Replaces every digit by another and every letter inside '...' by another, which changes
    /// constants only (the corpus has no digits outside constants and `$n`, which are skipped).
    private func withOtherConstants(_ sql: String) -> String {
        var out = ""
        var inString = false
        var previous: Character = " "
        for character in sql {
            if character == "'" { inString.toggle() }
            if !inString, character.isNumber, previous != "$", !(previous.isLetter || previous == "_") {
                out.append(character == "7" ? "3" : "7")
            } else if inString, character.isLetter {
                out.append(character == "q" ? "z" : "q")
            } else {
                out.append(character)
            }
            previous = character
        }
        return out
    }

    func testSameShapeMeansSameFingerprintOverTheNormalizerCorpus() {
        var compared = 0
        for (sql, _) in SQLFingerprintTests.cases {
            let variant = withOtherConstants(sql)
            if shape(sql) == shape(variant) {
                compared += 1
                XCTAssertEqual(SQLFingerprint.normalize(sql), SQLFingerprint.normalize(variant), "\(sql) vs \(variant)")
            }
        }
        // Most of the corpus must take part, or the loop above proves nothing.
        XCTAssertGreaterThan(compared, SQLFingerprintTests.cases.count / 2, "only \(compared) of \(SQLFingerprintTests.cases.count) compared")
    }

    func testConstantsDoNotChangeTheShape() {
        let pairs: [(String, String)] = [
            ("SELECT abalance FROM pgbench_accounts WHERE aid = 42", "SELECT abalance FROM pgbench_accounts WHERE aid = 917"),
            ("SELECT * FROM t WHERE name = 'alice'", "SELECT * FROM t WHERE name = 'SSN-123-45-6789'"),
            ("SELECT $$a$$", "SELECT $$bcd$$"),
            ("UPDATE t SET x = 1.5e3 WHERE id IN (1, 2)", "UPDATE t SET x = 2.0e1 WHERE id IN (9, 8)"),
        ]
        for (a, b) in pairs {
            XCTAssertEqual(shape(a), shape(b), "\(a) / \(b)")
            XCTAssertEqual(SQLFingerprint.normalize(a), SQLFingerprint.normalize(b))
        }
    }

    func testEverythingElseChangesTheShape() {
        let pairs: [(String, String)] = [
            ("SELECT a FROM t WHERE id = 1", "SELECT b FROM t WHERE id = 1"),
            ("SELECT * FROM t1", "SELECT * FROM t2"),
            ("SELECT $1", "SELECT $2"),
            ("SELECT 'a'", "SELECT E'a'"),
            ("SELECT 'a'", "SELECT 'a"),
            ("SELECT 'a' 'b'", "SELECT 'a'\n'b'"),
            ("SELECT 1 -- x", "SELECT 1 -- y"),
            ("SELECT -1", "SELECT 1"),
            ("SELECT 1", "SELECT 'x'"),
            ("SELECT 1 IN (1, 2)", "SELECT 1 IN (1, x)"),
            ("SET a = on", "SET a = off"),
            ("ab", "a b"),
            ("", " "),
        ]
        for (a, b) in pairs {
            XCTAssertNotEqual(shape(a), shape(b), "\(a) / \(b)")
        }
    }

    func testFingerprintCacheByShape() {
        var cache = FingerprintCache(capacity: 8, shapeCapacity: 2)
        let texts = ["SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = 2", "SELECT * FROM u WHERE id = 'x'",
                     "SELECT * FROM v WHERE id = 3", "SELECT * FROM t WHERE id = 4"]
        for sql in texts {
            let fingerprint = Array(sql.utf8).withUnsafeBytes { cache.fingerprint(utf8: $0) }
            XCTAssertEqual(fingerprint, SQLFingerprint.normalize(sql), sql)
            XCTAssertLessThanOrEqual(cache.shapeCount, 2)
        }
        XCTAssertEqual(cache.count, 0)  // texts with literals are never stored by text
    }
}
