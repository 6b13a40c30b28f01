import XCTest
@testable import PGRelayCore

final class ParameterSetIDsTests: XCTestCase {
    func testEqualValuesShareANumberAndDifferentValuesDoNot() {
        let ids = ParameterSetIDs()
        let a = ids.id(for: ["TimeZone": "UTC", "application_name": "x"])
        XCTAssertNotEqual(a, 0)
        XCTAssertEqual(ids.id(for: ["application_name": "x", "TimeZone": "UTC"]), a)
        XCTAssertNotEqual(ids.id(for: ["TimeZone": "UTC", "application_name": "y"]), a)
        XCTAssertNotEqual(ids.id(for: ["TimeZone": "UTC"]), a)
        XCTAssertNotEqual(ids.id(for: [:]), 0)
    }

    func testNumbersAreNeverReusedAfterTheTableIsEmptied() {
        let ids = ParameterSetIDs(capacity: 2)
        var seen = Set<UInt64>()
        for index in 0..<10 {
            let id = ids.id(for: ["application_name": "app\(index)"])
            XCTAssertTrue(seen.insert(id).inserted, "number \(id) given twice")
        }
        // A set forgotten when the table was emptied gets a new number, not an old one.
        let again = ids.id(for: ["application_name": "app0"])
        XCTAssertFalse(seen.contains(again))
    }
}

final class ParameterSetSharingTests: XCTestCase {
    func testInternReturnsTheStoredValuesAndTheirNumber() {
        let ids = ParameterSetIDs()
        let first = ids.intern(["TimeZone": "UTC"])
        let second = ids.intern(["TimeZone": "UTC"])
        XCTAssertEqual(first.id, second.id)
        XCTAssertEqual(second.values, ["TimeZone": "UTC"])
        XCTAssertEqual(ids.id(for: ["TimeZone": "UTC"]), first.id)
    }

    func testShareValuesOnlyTakesEqualValues() {
        var parameters = TrackedParameters()
        parameters.set("TimeZone", "UTC")
        parameters.shareValues(with: ["TimeZone": "Europe/Paris"])
        XCTAssertEqual(parameters.value("timezone"), "UTC")
        parameters.shareValues(with: ["TimeZone": "UTC"])
        XCTAssertEqual(parameters.value("TimeZone"), "UTC")
    }
}
