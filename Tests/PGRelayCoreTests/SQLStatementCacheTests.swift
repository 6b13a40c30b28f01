import XCTest
@testable import PGRelayCore

final class SQLStatementCacheTests: XCTestCase {
    func testHitsDoNotRecompute() {
        var cache = StatementTextCache<Int>(capacity: 4)
        var computed = 0
        for _ in 0..<3 {
            XCTAssertEqual(cache.value(for: "SELECT 1") { computed += 1; return $0.count }, 8)
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
        for index in 0..<10_000 {
            _ = cache.value(for: "SELECT \(index)") { _ in index }
            if index % 3 == 0 { _ = cache.value(for: "SELECT \(index / 2)") { _ in -1 } }
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

    func testRemoveAll() {
        var cache = StatementTextCache<Int>(capacity: 3)
        _ = cache.value(for: "a") { _ in 1 }
        cache.removeAll()
        XCTAssertEqual(cache.count, 0)
        XCTAssertNil(cache.peek("a"))
        _ = cache.value(for: "b") { _ in 2 }
        XCTAssertEqual(cache.peek("b"), 2)
    }

    func testClassificationCacheMatchesClassifier() {
        let classifier = SQLClassifier(writeFunctions: ["audit"])
        var cache = ClassificationCache(classifier: classifier, capacity: 8)
        for sql in ["SELECT 1", "SELECT audit(1)", "BEGIN READ ONLY", "SELECT 1"] {
            XCTAssertEqual(cache.classify(sql), classifier.classify(sql), sql)
        }
        XCTAssertEqual(cache.count, 3)
    }

    func testFingerprintCacheMatchesNormalizer() {
        var cache = FingerprintCache(capacity: 8)
        for sql in ["SELECT 1", "SELECT 'x'", "SELECT 1"] {
            XCTAssertEqual(cache.fingerprint(sql), SQLFingerprint.normalize(sql), sql)
        }
        XCTAssertEqual(cache.count, 2)
    }
}
