@testable import PGRelayCore
import XCTest

final class SessionTrackedParametersTests: XCTestCase {
    func testCanonicalNamesInAnyCase() {
        let tracked = TrackedParameters(extra: ["search_path"])
        let cases: [(String, String?)] = [
            ("datestyle", "DateStyle"), ("DATESTYLE", "DateStyle"), ("DateStyle", "DateStyle"),
            ("timezone", "TimeZone"), ("intervalstyle", "IntervalStyle"), ("Client_Encoding", "client_encoding"),
            ("STANDARD_CONFORMING_STRINGS", "standard_conforming_strings"), ("Application_Name", "application_name"),
            ("SEARCH_PATH", "search_path"), ("work_mem", nil), ("", nil),
        ]
        for (name, expected) in cases {
            XCTAssertEqual(tracked.canonicalName(name), expected, name)
        }
    }

    func testSetAndDifferences() {
        var tracked = TrackedParameters()
        tracked.set("timezone", "Europe/Paris")
        tracked.set("APPLICATION_NAME", "app")
        tracked.set("work_mem", "64MB")
        XCTAssertEqual(tracked.values, ["TimeZone": "Europe/Paris", "application_name": "app"], "untracked names are ignored")
        XCTAssertEqual(tracked.value("TIMEZONE"), "Europe/Paris")
        XCTAssertNil(tracked.value("work_mem"))
        XCTAssertEqual(tracked.applicationName, "app", "kept apart, set in any case of the name")
        XCTAssertEqual(tracked.value("application_name"), "app")
        tracked.set("application_name", "")
        XCTAssertEqual(tracked.applicationName, "", "an emptied name is empty, not the old one")
        tracked.set("application_name", "app")
        XCTAssertNil(TrackedParameters().applicationName)

        let server = ["TimeZone": "UTC", "application_name": "app", "DateStyle": "ISO, MDY"]
        let differences = tracked.differences(from: server)
        XCTAssertEqual(differences.map(\.name), ["TimeZone"])
        XCTAssertEqual(differences.map(\.value), ["Europe/Paris"])
        XCTAssertTrue(tracked.differences(from: ["TimeZone": "Europe/Paris", "application_name": "app"]).isEmpty)

        tracked.set("DateStyle", "German")
        // Sorted by name (byte order) so the generated statement is deterministic.
        XCTAssertEqual(tracked.differences(from: [:]).map(\.name), ["DateStyle", "TimeZone", "application_name"])
    }

    func testSetStatementQuoting() {
        let cases: [(String, [(String, String)], String)] = [
            ("plain", [("TimeZone", "UTC")], #"SET "TimeZone" TO 'UTC'"#),
            ("several", [("DateStyle", "ISO, MDY"), ("application_name", "app")],
             #"SET "DateStyle" TO 'ISO, MDY'; SET "application_name" TO 'app'"#),
            ("quote in value", [("application_name", "O'Brien's app")], #"SET "application_name" TO 'O''Brien''s app'"#),
            ("statement smuggled in a value", [("application_name", "x'; DROP TABLE t; --")],
             #"SET "application_name" TO 'x''; DROP TABLE t; --'"#),
            ("backslash: E'' string, whatever standard_conforming_strings is", [("application_name", #"a\b'c"#)],
             #"SET "application_name" TO E'a\\b''c'"#),
            ("empty value", [("application_name", "")], #"SET "application_name" TO ''"#),
            ("double quote in a name", [("we\"ird", "v")], #"SET "we""ird" TO 'v'"#),
        ]
        for (label, parameters, expected) in cases {
            XCTAssertEqual(TrackedParameters.setStatement(parameters.map { (name: $0.0, value: $0.1) }), expected, label)
        }
    }
}
