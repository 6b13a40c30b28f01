import XCTest

@testable import PGRelayCore

final class AuthPBKDF2CacheTests: XCTestCase {
    func testCachesAndMatchesRFC7677() throws {
        let cache = PBKDF2Cache(capacity: 8)
        let salt = AuthSecretTests.pencilSalt
        let first = try cache.saltedPassword(password: Array("pencil".utf8), salt: salt, iterations: 4096)
        let second = try cache.saltedPassword(password: Array("pencil".utf8), salt: salt, iterations: 4096)
        XCTAssertEqual(first, second)
        XCTAssertEqual(cache.derivations, 1)
        // SaltedPassword for RFC 7677's example, from Python's hashlib.pbkdf2_hmac.
        XCTAssertEqual(
            Data(first).base64EncodedString(), "xKSVEDI6tPlSysH6mUQZOeeOp01r6B3fcJbodRPcYV0=")
        _ = try cache.saltedPassword(password: Array("pencil".utf8), salt: salt, iterations: 4097)
        _ = try cache.saltedPassword(password: Array("pencil".utf8), salt: salt + [0], iterations: 4096)
        _ = try cache.saltedPassword(password: Array("pencil2".utf8), salt: salt, iterations: 4096)
        XCTAssertEqual(cache.derivations, 4)
        XCTAssertEqual(cache.count, 4)
    }

    func testStaysBounded() throws {
        let cache = PBKDF2Cache(capacity: 3)
        for index in 0..<10 {
            _ = try cache.saltedPassword(password: [UInt8(index)], salt: [1], iterations: 1)
        }
        XCTAssertEqual(cache.count, 3)
        // The newest entries survive, the oldest were evicted.
        _ = try cache.saltedPassword(password: [9], salt: [1], iterations: 1)
        XCTAssertEqual(cache.derivations, 10)
        _ = try cache.saltedPassword(password: [0], salt: [1], iterations: 1)
        XCTAssertEqual(cache.derivations, 11)
        cache.removeAll()
        XCTAssertEqual(cache.count, 0)
    }

    func testRejectsOutOfRangeParameters() {
        let cache = PBKDF2Cache(capacity: 3)
        for iterations in [0, -1, PBKDF2Cache.maximumIterations + 1, Int.max] {
            XCTAssertThrowsError(try cache.saltedPassword(password: [1], salt: [1], iterations: iterations)) {
                XCTAssertEqual(($0 as? AuthError)?.sqlState, "08P01")
            }
        }
        XCTAssertThrowsError(try cache.saltedPassword(password: [1], salt: [], iterations: 1))
        XCTAssertEqual(cache.derivations, 0)
    }

    func testConcurrentUseIsSafe() throws {
        let cache = PBKDF2Cache(capacity: 16)
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let password = [UInt8(index % 20)]
            let value = try? cache.saltedPassword(password: password, salt: [7], iterations: 2)
            XCTAssertEqual(value?.count, 32)
        }
        XCTAssertLessThanOrEqual(cache.count, 16)
    }
}
