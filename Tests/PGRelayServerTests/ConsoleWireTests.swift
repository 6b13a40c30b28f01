import NIOCore
import PGWire
import XCTest
@testable import PGRelayServer

final class ConsoleWireTests: XCTestCase {
    private func bindRemainder(parameterFormats: [Int16], parameters: [[UInt8]?], resultFormats: [Int16]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeInteger(Int16(parameterFormats.count))
        for format in parameterFormats { buffer.writeInteger(format) }
        buffer.writeInteger(Int16(parameters.count))
        for parameter in parameters {
            if let parameter {
                buffer.writeInteger(Int32(parameter.count))
                buffer.writeBytes(parameter)
            } else {
                buffer.writeInteger(Int32(-1))
            }
        }
        buffer.writeInteger(Int16(resultFormats.count))
        for format in resultFormats { buffer.writeInteger(format) }
        return buffer
    }

    func testResultFormatsOfBind() throws {
        let cases: [([Int16], [[UInt8]?], [Int16])] = [
            ([], [], []),
            ([], [], [1]),
            ([0, 1], [[1, 2, 3], nil], [0, 1, 1]),
        ]
        for (parameterFormats, parameters, results) in cases {
            let remainder = bindRemainder(parameterFormats: parameterFormats, parameters: parameters, resultFormats: results)
            XCTAssertEqual(try ConsoleWire.resultFormats(ofBindRemainder: remainder), results)
        }
    }

    func testMalformedBindIsRejected() {
        var truncated = bindRemainder(parameterFormats: [], parameters: [[1, 2, 3, 4]], resultFormats: [1])
        truncated.moveWriterIndex(to: truncated.writerIndex - 8)
        var negative = ByteBufferAllocator().buffer(capacity: 8)
        negative.writeInteger(Int16(-1))
        let badCode = bindRemainder(parameterFormats: [], parameters: [], resultFormats: [2])
        var hugeLength = ByteBufferAllocator().buffer(capacity: 16)
        hugeLength.writeInteger(Int16(0))
        hugeLength.writeInteger(Int16(1))
        hugeLength.writeInteger(Int32.max)
        for buffer in [ByteBuffer(), truncated, negative, badCode, hugeLength] {
            XCTAssertThrowsError(try ConsoleWire.resultFormats(ofBindRemainder: buffer)) { error in
                XCTAssertEqual((error as? ConsoleError)?.sqlState, "08P01")
            }
        }
    }

    func testFormatCodeSelection() {
        XCTAssertEqual(ConsoleWire.format(of: 3, in: []), 0)
        XCTAssertEqual(ConsoleWire.format(of: 3, in: [1]), 1)
        XCTAssertEqual(ConsoleWire.format(of: 1, in: [0, 1]), 1)
        XCTAssertEqual(ConsoleWire.format(of: 5, in: [0, 1]), 0)
    }

    func testBinaryNumericMatchesPostgreSQL() {
        // PostgreSQL's numeric_send: ndigits, weight, sign, dscale, then base-10000 digits.
        let cases: [(Int64, [UInt8])] = [
            (0, [0, 0, 0, 0, 0, 0, 0, 0]),
            (5, [0, 1, 0, 0, 0, 0, 0, 0, 0, 5]),
            (12345, [0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0x09, 0x29]),
            (-10000, [0, 2, 0, 1, 0x40, 0, 0, 0, 0, 1, 0, 0]),
        ]
        for (value, expected) in cases {
            var buffer = ByteBuffer()
            let written = ConsoleWire.writeNumeric(value, into: &buffer)
            XCTAssertEqual(written, expected.count, "\(value)")
            XCTAssertEqual(buffer.readBytes(length: buffer.readableBytes), expected, "\(value)")
        }
    }

    func testDataRowInTextAndBinary() {
        let columns = [ConsoleTable.Column(name: "a", type: .int4), ConsoleTable.Column(name: "b", type: .text),
                       ConsoleTable.Column(name: "c", type: .int8)]
        var text = ByteBuffer()
        ConsoleWire.writeDataRow(["7", nil, "9"], columns: columns, formats: [], into: &text)
        XCTAssertEqual(text.readBytes(length: text.readableBytes),
                       [0x44, 0, 0, 0, 20, 0, 3, 0, 0, 0, 1, 0x37, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x39])
        var binary = ByteBuffer()
        ConsoleWire.writeDataRow(["7", "x", "9"], columns: columns, formats: [1], into: &binary)
        XCTAssertEqual(binary.readBytes(length: binary.readableBytes),
                       [0x44, 0, 0, 0, 31, 0, 3, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 1, 0x78, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 9])
    }

    func testAdminRowsTypeNumbers() {
        var table = ConsoleTable([("name", .text), ("count", .int4), ("total", .numeric), ("ms", .float8)])
        table.add(["a", "3", "123456789012", "1.5"])
        table.add([nil, "x", nil, "2"])
        XCTAssertEqual(table.adminRows[0], ["name": .string("a"), "count": .int(3), "total": .int(123_456_789_012), "ms": .double(1.5)])
        XCTAssertEqual(table.adminRows[1]["name"], .null)
        XCTAssertEqual(table.adminRows[1]["count"], .string("x"))
    }

    func testRowsArePaddedOrCutToTheTableWidth() {
        var table = ConsoleTable([("a", .text), ("b", .text)])
        table.add(["1"])
        table.add(["1", "2", "3"])
        XCTAssertEqual(table.rows, [["1", nil], ["1", "2"]])
    }
}

final class StatsAveragesTests: XCTestCase {
    func testAveragesFollowPgBouncersFormulas() {
        var previous = PoolCounters()
        previous.queries = 100
        var current = PoolCounters()
        current.serverAssignments = 30
        current.transactions = 60
        current.queries = 220
        current.bytesReceived = 6000
        current.transactionMicros = 6000
        current.queryMicros = 2400
        current.waitMicros = 300
        let averages = PoolAverages(current: current, previous: previous, micros: 60_000_000)
        XCTAssertEqual(averages.queries, 2) // 120 queries in 60 s
        XCTAssertEqual(averages.transactions, 1)
        XCTAssertEqual(averages.bytesReceived, 100)
        XCTAssertEqual(averages.queryMicros, 20) // per query of the period
        XCTAssertEqual(averages.transactionMicros, 100) // per transaction
        XCTAssertEqual(averages.waitMicros, 10) // per server assignment
        XCTAssertEqual(PoolAverages(current: current, previous: previous, micros: 0), PoolAverages())
    }

    func testCountersGoingBackwardsGiveZeros() {
        var previous = PoolCounters()
        previous.queries = 50
        XCTAssertEqual(PoolAverages(current: PoolCounters(), previous: previous, micros: 1_000_000).queries, 0)
    }

    func testTrackerRollsOncePerPeriod() {
        let tracker = StatsPeriodTracker()
        var counters = PoolCounters()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        tracker.tick(totals: ["db": counters], period: 10, now: start)
        XCTAssertEqual(tracker.averages(database: "db"), PoolAverages(), "one mark is not a period")
        counters.queries = 100
        tracker.tick(totals: ["db": counters], period: 10, now: start + .seconds(5))
        XCTAssertEqual(tracker.averages(database: "db").queries, 0, "not rolled before the period ends")
        tracker.tick(totals: ["db": counters], period: 10, now: start + .seconds(10))
        XCTAssertEqual(tracker.averages(database: "db").queries, 10)
        XCTAssertEqual(tracker.overallAverages().queries, 10)
        XCTAssertEqual(tracker.averages(database: "other"), PoolAverages())
    }

    func testTrackerReportsCompletedPeriodsForLogStats() {
        let tracker = StatsPeriodTracker()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var busy = PoolCounters()
        XCTAssertFalse(tracker.tick(totals: ["b": busy, "a": PoolCounters()], period: 2, now: start), "first mark")
        XCTAssertTrue(tracker.periodAverages().isEmpty)
        busy.transactions = 4
        busy.queries = 10
        busy.bytesReceived = 2048
        busy.bytesSent = 4096
        busy.transactionMicros = 400
        busy.queryMicros = 300
        busy.serverAssignments = 2
        busy.waitMicros = 50
        XCTAssertFalse(tracker.tick(totals: ["b": busy, "a": PoolCounters()], period: 2, now: start + .seconds(1)))
        XCTAssertTrue(tracker.tick(totals: ["b": busy, "a": PoolCounters()], period: 2, now: start + .seconds(2)))
        let lines = tracker.periodAverages().map { "\($0.database): \($0.averages.statsLogLine)" }
        XCTAssertEqual(lines, [
            "a: stats: 0 xacts/s, 0 queries/s, in 0 B/s, out 0 B/s, xact 0 us, query 0 us, wait 0 us",
            "b: stats: 2 xacts/s, 5 queries/s, in 1024 B/s, out 2048 B/s, xact 100 us, query 30 us, wait 25 us",
        ])
    }
}
