import Foundation
import NIOCore
import PGWire
import XCTest
@testable import PGRelayCore

final class RateLimitTests: XCTestCase {
    private let ms: Int64 = 1_000_000

    func testRateAndBurst() {
        let cases: [(perSecond: Double, burst: Int, interval: Int64, size: Int)] = [
            (100, 0, 10 * ms, 100),      // burst 0: one second's worth
            (100, 5, 10 * ms, 5),
            (2.5, 0, 400 * ms, 3),       // rounded up
            (1000, 1, ms, 1),
            (0.5, 0, 2000 * ms, 1),      // at least one
        ]
        for (perSecond, burst, interval, size) in cases {
            let rate = QueryRate(perSecond: perSecond, burst: burst)
            XCTAssertEqual(rate.intervalNanos, interval, "\(perSecond)/s")
            XCTAssertEqual(rate.burst, size, "\(perSecond)/s burst \(burst)")
        }
    }

    func testCellRateLetsTheBurstThroughThenTheRate() {
        let rate = QueryRate(perSecond: 100, burst: 3)
        var tat: Int64 = 0
        let now: Int64 = 1_000 * ms
        var waits: [Int64] = []
        for _ in 0 ..< 5 {
            let step = CellRate.reserve(tat: tat, now: now, rate: rate)
            tat = step.tat
            waits.append(step.waitNanos)
        }
        XCTAssertEqual(waits, [0, 0, 0, 10 * ms, 20 * ms], "3 at once, then one per 10 ms")
        // After a quiet second the bucket is full again.
        XCTAssertEqual(CellRate.reserve(tat: tat, now: now + 1_000 * ms, rate: rate).waitNanos, 0)
        // Steady arrivals at the rate never wait.
        var steady: Int64 = 0
        for step in 0 ..< 100 {
            let result = CellRate.reserve(tat: steady, now: now + Int64(step) * 10 * ms, rate: rate)
            XCTAssertEqual(result.waitNanos, 0)
            steady = result.tat
        }
    }

    func testBucketIsSharedByThreadsWithoutLosingTurns() {
        let bucket = QueryRateBucket(scope: .user, name: "app", rate: QueryRate(perSecond: 1000, burst: 1))
        let threads = 4, perThread = 2_500
        let lock = NSLock()
        nonisolated(unsafe) var maxWait: Int64 = 0
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var local: Int64 = 0
            for _ in 0 ..< perThread { local = max(local, bucket.reserve(now: 0)) }
            lock.lock()
            maxWait = max(maxWait, local)
            lock.unlock()
        }
        // 10,000 turns at 1 ms each, all asked for at time 0: the last waits 9.999 s.
        XCTAssertEqual(maxWait, Int64(threads * perThread - 1) * ms)
        bucket.cancel()
        XCTAssertEqual(bucket.reserve(now: 0), Int64(threads * perThread - 1) * ms, "a cancelled turn is given back")
    }

    func testWhichLimitApplies() throws {
        let config = try loadConfig("""
            [pgrelay]
            query_rate_limit = 50
            query_rate_burst = 10
            [users]
            fast = query_rate_limit=500
            bursty = query_rate_limit=5 query_rate_burst=1
            zero = query_rate_limit=0
            [databases]
            appdb = host=127.0.0.1 query_rate_limit=200 query_rate_burst=20
            other = host=127.0.0.1
            * = host=127.0.0.1 query_rate_limit=7
            """).config
        let users: [(String, Double?, Int?)] = [
            ("app", 50, 10), ("fast", 500, 10), ("bursty", 5, 1), ("zero", 50, 10),
        ]
        for (user, perSecond, burst) in users {
            let rate = QueryRateLimits.userRate(config, user: user)
            XCTAssertEqual(rate.map { $0.perSecond }, perSecond, user)
            XCTAssertEqual(rate?.burst, burst, user)
        }
        XCTAssertEqual(QueryRateLimits.databaseRate(config, database: "appdb")?.perSecond, 200)
        XCTAssertEqual(QueryRateLimits.databaseRate(config, database: "appdb")?.burst, 20)
        XCTAssertNil(QueryRateLimits.databaseRate(config, database: "other"), "the global key limits users, not databases")
        XCTAssertEqual(QueryRateLimits.databaseRate(config, database: "anything")?.perSecond, 7, "through the * entry")
        XCTAssertTrue(QueryRateLimits.anyConfigured(config))
        XCTAssertFalse(QueryRateLimits.anyConfigured(try loadConfig(mainSection("")).config))

        let limits = QueryRateLimits(config: config)
        XCTAssertEqual(limits.buckets(user: "app", database: "appdb").map(\.scope), [.user, .database])
        XCTAssertEqual(limits.buckets(user: "app", database: "other").map(\.name), ["app"])
        XCTAssertTrue(limits.buckets(user: "app", database: "appdb")[0] === limits.buckets(user: "app", database: "other")[0],
                      "one bucket per user, shared by its sessions")
        XCTAssertEqual(limits.allBuckets.map { "\($0.scope.rawValue):\($0.name)" }, ["user:app", "database:appdb"])
    }

    func testOptionsAreValidated() {
        let cases: [(String, String)] = [
            ("[pgrelay]\nquery_rate_limit = -1\n[databases]\na = host=x\n", "query_rate_limit"),
            ("[pgrelay]\nquery_rate_burst = 1.5\n[databases]\na = host=x\n", "query_rate_burst"),
            ("[pgrelay]\nquery_rate_wait_ms = soon\n[databases]\na = host=x\n", "query_rate_wait_ms"),
            ("[pgrelay]\n[users]\nu = query_rate_limit=fast\n[databases]\na = host=x\n", "query_rate_limit"),
            ("[pgrelay]\n[databases]\na = host=x query_rate_burst=-2\n", "query_rate_burst"),
            ("[pgrelay]\notlp_endpoint = collector:4318\n[databases]\na = host=x\n", "otlp_endpoint"),
            ("[pgrelay]\ntrace_sample_ratio = 1.5\n[databases]\na = host=x\n", "trace_sample_ratio"),
            ("[pgrelay]\notlp_queue_size = 0\n[databases]\na = host=x\n", "otlp_queue_size"),
        ]
        for (text, key) in cases {
            let error = configError { try loadConfig(text) }
            XCTAssertTrue(error?.description.contains(key) ?? false, "\(key): \(String(describing: error))")
        }
    }

    func testReloadChangesTheRateOfLiveBucketsAndDropsUnlimitedOnes() throws {
        let limits = QueryRateLimits(config: try loadConfig(mainSection("query_rate_limit = 10")).config)
        let bucket = limits.buckets(user: "app", database: "app")[0]
        let before = limits.generation
        limits.configure(try loadConfig(mainSection("query_rate_limit = 40\nquery_rate_wait_ms = 5")).config)
        XCTAssertNotEqual(limits.generation, before)
        XCTAssertEqual(bucket.rate.perSecond, 40)
        XCTAssertEqual(limits.maxWaitNanos, 5 * ms)
        limits.configure(try loadConfig(mainSection("")).config)
        XCTAssertTrue(limits.allBuckets.isEmpty)
        XCTAssertTrue(limits.buckets(user: "app", database: "app").isEmpty)
    }

    // MARK: the gate

    private enum Step {
        /// A message of `type` at `at` ms; `clean` is what `canRefuse` answers.
        case frame(UInt8, at: Int64, clean: Bool, QueryRateGate.Decision)
    }

    private func run(_ settings: String, _ steps: [Step], file: StaticString = #filePath, line: UInt = #line) throws -> QueryRateLimits {
        let limits = QueryRateLimits(config: try loadConfig(mainSection(settings)).config)
        let gate = QueryRateGate(limits: limits)
        for (index, step) in steps.enumerated() {
            guard case let .frame(type, at, clean, expected) = step else { continue }
            let decision = gate.admit(type, user: "app", database: "app", clock: { at * self.ms }, canRefuse: { clean })
            XCTAssertEqual(decision, expected, "step \(index) (\(Character(UnicodeScalar(type))) at \(at) ms)", file: file, line: line)
        }
        return limits
    }

    func testGateLetsTheBurstThroughThenHoldsForTheNextTurn() throws {
        let q = FrontendType.query
        let limits = try run("query_rate_limit = 10\nquery_rate_burst = 2", [
            .frame(q, at: 0, clean: true, .pass),
            .frame(q, at: 0, clean: true, .pass),
            .frame(q, at: 0, clean: true, .hold(untilNanos: 100 * ms)),
            .frame(q, at: 50, clean: true, .stillHolding),
            .frame(q, at: 100, clean: true, .pass),       // the held query, on its reserved turn
            .frame(q, at: 300, clean: true, .pass),
        ])
        XCTAssertEqual(limits.allBuckets.first?.delayed, 1)
        XCTAssertEqual(limits.allBuckets.first?.refused, 0)
    }

    func testGateRefusesAfterTheWaitWhereThatIsClean() throws {
        let q = FrontendType.query
        let limits = try run("query_rate_limit = 1\nquery_rate_burst = 1\nquery_rate_wait_ms = 200", [
            .frame(q, at: 0, clean: true, .pass),
            .frame(q, at: 10, clean: true, .hold(untilNanos: 210 * ms)),   // its turn is at 1000 ms: wait 200, then ask again
            .frame(q, at: 210, clean: true, .refuse(message: "query rate limit exceeded for user \"app\" (1 queries/s, waited 200 ms)")),
            .frame(q, at: 1000, clean: true, .pass),                       // the refused one gave its turn back
        ])
        XCTAssertEqual(limits.allBuckets.first?.refused, 1)
    }

    func testGateNeverRefusesInsideATransactionItWaitsInstead() throws {
        let q = FrontendType.query
        _ = try run("query_rate_limit = 1\nquery_rate_burst = 1\nquery_rate_wait_ms = 0", [
            .frame(q, at: 0, clean: true, .pass),
            .frame(q, at: 10, clean: false, .hold(untilNanos: 1000 * ms)),
            .frame(q, at: 1000, clean: false, .pass),
            .frame(q, at: 1001, clean: true, .refuse(message: "query rate limit exceeded for user \"app\" (1 queries/s, waited 0 ms)")),
        ])
    }

    func testGateCountsAnExtendedBatchOnceAndDiscardsARefusedOneUntilSync() throws {
        let (p, b, e, s, d) = (FrontendType.parse, FrontendType.bind, FrontendType.execute, FrontendType.sync, FrontendType.copyData)
        _ = try run("query_rate_limit = 1\nquery_rate_burst = 1\nquery_rate_wait_ms = 0", [
            .frame(p, at: 0, clean: true, .pass),
            .frame(b, at: 0, clean: true, .pass),
            .frame(e, at: 0, clean: true, .pass),
            .frame(s, at: 0, clean: true, .pass),
            .frame(p, at: 1, clean: true, .refuse(message: "query rate limit exceeded for user \"app\" (1 queries/s, waited 0 ms)")),
            .frame(b, at: 1, clean: true, .discard),
            .frame(e, at: 1, clean: true, .discard),
            .frame(s, at: 1, clean: true, .endDiscard),
            .frame(d, at: 2, clean: true, .pass),                          // COPY data is no request
            .frame(b, at: 1000, clean: true, .pass),
        ])
    }

    func testGateWithoutLimitsPassesEverything() throws {
        let limits = try run("", [
            .frame(FrontendType.query, at: 0, clean: true, .pass),
            .frame(FrontendType.query, at: 0, clean: true, .pass),
        ])
        XCTAssertTrue(limits.allBuckets.isEmpty)
    }

    func testWhatTheClientIsToldForADroppedMessage() {
        let refusal = QueryRateGate.Decision.refuse(message: "query rate limit exceeded")
        let cases: [(QueryRateGate.Decision, UInt8, [UInt8], String)] = [
            (refusal, FrontendType.query, [UInt8(ascii: "E"), UInt8(ascii: "Z")], "a simple Query: error and ReadyForQuery"),
            (refusal, FrontendType.functionCall, [UInt8(ascii: "E"), UInt8(ascii: "Z")], "FunctionCall alike"),
            (refusal, FrontendType.sync, [UInt8(ascii: "E"), UInt8(ascii: "Z")], "a bare Sync alike"),
            (refusal, FrontendType.parse, [UInt8(ascii: "E")], "a batch: the error now, ReadyForQuery at its Sync"),
            (.endDiscard, FrontendType.sync, [UInt8(ascii: "Z")], "the refused batch's Sync"),
            (.discard, FrontendType.bind, [], "the rest of the batch: nothing"),
            (.pass, FrontendType.query, [], "passed on: nothing"),
        ]
        for (decision, type, expected, label) in cases {
            var buffer = ByteBuffer()
            let error = decision.reply(to: type, into: &buffer)
            var types: [UInt8] = []
            while let frame = try? FrameReader.next(from: &buffer, maxLength: 1 << 20) { types.append(frame.type) }
            XCTAssertEqual(types, expected, label)
            XCTAssertEqual(error?.sqlState, expected.first == UInt8(ascii: "E") ? "53400" : nil, label)
        }
    }
}
