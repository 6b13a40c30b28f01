import NIOCore
import PGRelayCore
import XCTest
@testable import PGRelayServer

final class AuthLookupTests: XCTestCase {
    func testCacheKeepsTheLastAnswer() {
        let cache = AuthSecretCache()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        cache.record(.plain("p"), for: "u", now: start)
        XCTAssertEqual(cache.latest("u"), .plain("p"), "server logins find the secret of the last login")
        cache.record(.md5("md5" + String(repeating: "0", count: 32)), for: "u", now: start + .seconds(1))
        XCTAssertEqual(cache.latest("u"), .md5("md5" + String(repeating: "0", count: 32)), "a newer answer replaces it")
        cache.record(nil, for: "u", now: start + .seconds(2))
        XCTAssertNil(cache.latest("u"), "a role without a secret (expired, dropped) is forgotten")
        XCTAssertNil(cache.latest("other"))
    }

    func testCacheIsBounded() {
        let cache = AuthSecretCache()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for index in 0...AuthSecretCache.capacity {
            cache.record(.plain("p"), for: "user\(index)", now: start + .nanoseconds(Int64(index)))
        }
        XCTAssertNil(cache.latest("user0"), "the oldest entry made room")
        XCTAssertEqual(cache.latest("user\(AuthSecretCache.capacity)"), .plain("p"))
    }
}
