import PGRelayCore
import XCTest

final class LastNamedLookupTests: XCTestCase {
    func testOnlyTheRememberedNameFindsTheValue() {
        var lookup = LastNamedLookup<String>()
        let cases: [(step: String, remember: (String, String)?, forget: Bool, ask: String, expected: String?)] = [
            ("empty", nil, false, "s1", nil),
            ("remembered", ("s1", "pgrelay_1"), false, "s1", "pgrelay_1"),
            ("another name", nil, false, "s2", nil),
            ("a prefix of it", nil, false, "s", nil),
            ("longer than it", nil, false, "s10", nil),
            ("the empty name", nil, false, "", nil),
            ("replaced by a longer name", ("statement_with_a_long_name", "pgrelay_2"), false, "statement_with_a_long_name", "pgrelay_2"),
            ("the old name is gone", nil, false, "s1", nil),
            ("replaced by a shorter name", ("s3", "pgrelay_3"), false, "s3", "pgrelay_3"),
            ("not the bytes of the longer name", nil, false, "st", nil),
            ("UTF-8 names", ("é1", "pgrelay_4"), false, "é1", "pgrelay_4"),
            ("forgotten", nil, true, "é1", nil),
        ]
        for test in cases {
            if let (name, value) = test.remember {
                Array(name.utf8).withUnsafeBytes { lookup.remember(value, named: $0) }
            }
            if test.forget { lookup.forget() }
            let found = Array(test.ask.utf8).withUnsafeBytes { lookup.value(named: $0) }
            XCTAssertEqual(found, test.expected, test.step)
        }
    }
}
