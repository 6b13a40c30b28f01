import PGRelayCore
import XCTest

final class PreparedStatementCacheTests: XCTestCase {
    func testLeastRecentlyUsedIsEvicted() {
        var cache = ServerStatementCache(capacity: 3)
        XCTAssertEqual(cache.insert("a"), [])
        XCTAssertEqual(cache.insert("b"), [])
        XCTAssertEqual(cache.insert("c"), [])
        XCTAssertTrue(cache.touchIfPresent("a"))
        XCTAssertFalse(cache.touchIfPresent("z"), "an absent name is not listed by a touch")
        XCTAssertFalse(cache.contains("z"))
        XCTAssertEqual(cache.insert("d"), ["b"])
        XCTAssertEqual(cache.insert("a"), [], "inserting a present name only touches it")
        XCTAssertEqual(cache.insert("e"), ["c"])
        XCTAssertEqual(cache.count, 3)
        XCTAssertTrue(cache.contains("a"))
        XCTAssertFalse(cache.contains("b"))
    }

    /// The same name touched again and again, then removed, evicted or discarded in between: a
    /// touch must find exactly what is listed, and the least recently used must still go first.
    func testRepeatedTouchesFollowEveryChange() {
        var cache = ServerStatementCache(capacity: 2)
        _ = cache.insert("a")
        _ = cache.insert("b")
        XCTAssertTrue(cache.touchIfPresent("a"))
        XCTAssertTrue(cache.touchIfPresent("a"))
        XCTAssertEqual(cache.insert("c"), ["b"], "repeated touches keep a the most recently used")
        XCTAssertTrue(cache.touchIfPresent("c"))
        XCTAssertTrue(cache.touchIfPresent("a"))
        XCTAssertEqual(cache.insert("d"), ["c"])
        XCTAssertFalse(cache.touchIfPresent("c"), "evicted after its last touch")
        XCTAssertTrue(cache.touchIfPresent("d"))
        cache.remove("d")
        XCTAssertFalse(cache.touchIfPresent("d"), "removed after its last touch")
        XCTAssertTrue(cache.touchIfPresent("a"))
        cache.removeAll()
        XCTAssertFalse(cache.touchIfPresent("a"), "discarded after its last touch")
        _ = cache.insert("a")
        XCTAssertTrue(cache.touchIfPresent("a"))
        var copy = cache
        _ = copy.insert("e")
        XCTAssertTrue(copy.touchIfPresent("a"))
        XCTAssertTrue(cache.touchIfPresent("a"), "a copy's changes leave the original as it was")
        XCTAssertFalse(cache.touchIfPresent("e"))
    }

    func testCapacityIsAtLeastOne() {
        var cache = ServerStatementCache(capacity: 0)
        XCTAssertEqual(cache.capacity, 1)
        XCTAssertEqual(cache.insert("a"), [])
        XCTAssertEqual(cache.insert("b"), ["a"])
    }

    func testNamesTheServerMayStillHold() {
        var cache = ServerStatementCache(capacity: 1)
        XCTAssertFalse(cache.mayStillHold("a"))
        _ = cache.insert("a")
        XCTAssertFalse(cache.mayStillHold("a"), "listed, so known to be there")
        _ = cache.insert("b")
        XCTAssertTrue(cache.mayStillHold("a"), "its Close may be skipped by an error earlier in the batch")
        _ = cache.insert("a")
        XCTAssertFalse(cache.mayStillHold("a"))

        cache.remove("a")
        XCTAssertFalse(cache.contains("a"))
        XCTAssertTrue(cache.mayStillHold("a"), "a Parse reported failed may have been one skipped after a skipped Close")
        cache.remove("never-inserted")
        XCTAssertFalse(cache.mayStillHold("never-inserted"))

        var discarded = ServerStatementCache(capacity: 4)
        _ = discarded.insert("x")
        _ = discarded.insert("y")
        discarded.removeAll()
        XCTAssertEqual(discarded.count, 0)
        XCTAssertTrue(discarded.mayStillHold("x"), "DISCARD ALL fails inside a transaction block")
        XCTAssertTrue(discarded.mayStillHold("y"))
    }

    func testTheUncertainNamesAreBounded() {
        var cache = ServerStatementCache(capacity: 1)
        for index in 0..<1_000 { _ = cache.insert("s\(index)") }
        XCTAssertTrue(cache.mayStillHold("s998"))
        XCTAssertFalse(cache.mayStillHold("s0"), "the oldest are forgotten")
        let remembered = (0..<1_000).filter { cache.mayStillHold("s\($0)") }.count
        XCTAssertLessThanOrEqual(remembered, 128)
    }
}
