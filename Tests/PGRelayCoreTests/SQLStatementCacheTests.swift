import XCTest
@testable import PGRelayCore

final class SQLStatementCacheTests: XCTestCase {
    func testHitsDoNotRecompute() {
        var cache = StatementTextCache<Int>(capacity: 4)
        var computed = 0
        for _ in 0..<3 {
            XCTAssertEqual(cache.value(for: "SELECT now()") { computed += 1; return $0.count }, 12)
        }
        XCTAssertEqual(computed, 1)
        XCTAssertEqual(cache.count, 1)
    }

    func testClockGivesReferencedEntriesASecondChance() {
        var cache = StatementTextCache<String>(capacity: 2)
        _ = cache.value(for: "a") { $0 }
        _ = cache.value(for: "b") { $0 }
        _ = cache.value(for: "a") { _ in XCTFail("a is cached"); return "" }
        _ = cache.value(for: "c") { $0 }  // evicts b: a was used since it was stored
        XCTAssertEqual(cache.count, 2)
        XCTAssertNotNil(cache.peek("a"))
        XCTAssertNil(cache.peek("b"))
        XCTAssertNotNil(cache.peek("c"))
    }

    func testCapacityIsNeverExceeded() {
        var cache = StatementTextCache<Int>(capacity: 100)
        func text(_ index: Int) -> String {  // literal-free texts, so that they are stored
            "SELECT " + String(index).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8(String($0))!)) }.joined()
        }
        for index in 0..<10_000 {
            _ = cache.value(for: text(index)) { _ in index }
            if index % 3 == 0 { _ = cache.value(for: text(index / 2)) { _ in -1 } }
        }
        XCTAssertEqual(cache.count, 100)
        XCTAssertEqual(StatementTextCache<Int>(capacity: 0).capacity, 1)
    }

    func testLongTextsAreComputedButNotStored() {
        var cache = StatementTextCache<Int>(capacity: 10, maximumKeyLength: 16)
        var computed = 0
        let long = String(repeating: "x", count: 17)
        _ = cache.value(for: long) { computed += 1; return $0.count }
        _ = cache.value(for: long) { computed += 1; return $0.count }
        XCTAssertEqual(computed, 2)
        XCTAssertEqual(cache.count, 0)
    }

    func testTextsWithLiteralsAreComputedButNotStored() {
        let cases: [(String, Bool)] = [
            ("BEGIN", true), ("COMMIT", true), ("SELECT now()", true), ("select * from t where a = b", true),
            ("SELECT 1", false), ("SELECT 'x'", false), ("SELECT $$x$$", false), ("", true),
            // Parameters and digits in names are not literals: such texts repeat verbatim.
            ("SELECT $1", true), ("SELECT * FROM t2", true),
        ]
        for (sql, stored) in cases {
            var cache = StatementTextCache<Int>(capacity: 4)
            var computed = 0
            _ = cache.value(for: sql) { computed += 1; return $0.count }
            _ = cache.value(for: sql) { computed += 1; return $0.count }
            XCTAssertEqual(cache.count, stored ? 1 : 0, sql)
            XCTAssertEqual(computed, stored ? 1 : 2, sql)
        }
    }

    func testRemoveAll() {
        var cache = StatementTextCache<Int>(capacity: 3)
        _ = cache.value(for: "a") { _ in 1 }
        cache.removeAll()
        XCTAssertEqual(cache.count, 0)
        XCTAssertNil(cache.peek("a"))
        _ = cache.value(for: "b") { _ in 2 }
        XCTAssertEqual(cache.peek("b"), 2)
    }

    /// Texts that repeat verbatim (no literal) are stored; parameters and digits in names are
    /// not literals, so the extended protocol's statement texts are stored too.
    func testWhichTextsAreWorthStoring() {
        let cases: [(text: String, stored: Bool)] = [
            ("SELECT now()", true),
            ("", true),
            ("SELECT abalance FROM pgbench_accounts WHERE aid = $1;", true),
            ("UPDATE t2 SET a_1 = $12, b = $2 WHERE id = $3", true),
            ("SELECT a$1 FROM x", true),
            ("SELECT 1", false),
            ("SELECT * FROM t WHERE id = $1 AND n > 10", false),
            ("SELECT .5", false),
            ("SELECT 'a'", false),
            ("SELECT E'a'", false),
            ("SELECT $$x$$", false),
            ("SELECT $tag$x$tag$", false),
            ("SELECT $1,2", false),
            ("SELECT $", false),
            ("SELECT x FROM \"t 1\"", false),
        ]
        for test in cases {
            XCTAssertEqual(StatementTextCache<Int>.isWorthStoring(test.text.utf8), test.stored, test.text)
        }
    }

    func testClassificationCacheMatchesClassifier() {
        let classifier = SQLClassifier(writeFunctions: ["audit"])
        var cache = ClassificationCache(classifier: classifier, capacity: 8)
        for sql in ["SELECT 1", "SELECT audit(1)", "BEGIN READ ONLY", "SELECT 1", "SELECT audit(x)"] {
            XCTAssertEqual(cache.classify(sql), classifier.classify(sql), sql)
        }
        XCTAssertEqual(cache.count, 2)  // texts with literals are not stored
    }

    func testFingerprintFromBytesMatchesNormalizer() {
        var cache = FingerprintCache(capacity: 8)
        for sql in ["SELECT 1", "SELECT now()", "SELECT now()", "SELECT $1, 'a'", "SET x = on", "select 'é' || $$x$$", ""] {
            let fromBytes = Array(sql.utf8).withUnsafeBytes { cache.fingerprint(utf8: $0) }
            XCTAssertEqual(fromBytes, SQLFingerprint.normalize(sql), sql)
        }
        // Plain texts are kept by their byte hash, literals or not; the others with literals by
        // their lexer shape: one entry per distinct text here, none by text.
        XCTAssertEqual(cache.count, 0)
        XCTAssertEqual(cache.shapeCount, 6)
    }

    func testFingerprintCacheMatchesNormalizer() {
        var cache = FingerprintCache(capacity: 8)
        for sql in ["SELECT 1", "SELECT 'x'", "SELECT 1", "SELECT now()", "SELECT now()"] {
            XCTAssertEqual(cache.fingerprint(sql), SQLFingerprint.normalize(sql), sql)
        }
        XCTAssertEqual(cache.count, 1)
    }
}
