import XCTest

@testable import PGRelayCore

final class AuthSASLprepTests: XCTestCase {
    func testPreparation() {
        let cases: [(name: String, input: String, expected: String)] = [
            ("ASCII unchanged", "pencil", "pencil"),
            ("ASCII control characters unchanged, as in PostgreSQL", "a\u{07}b\u{7F}", "a\u{07}b\u{7F}"),
            ("ASCII spaces unchanged", " a b ", " a b "),
            // RFC 4013 section 3 examples.
            ("soft hyphen mapped to nothing", "I\u{00AD}X", "IX"),
            ("NFKC of feminine ordinal", "\u{00AA}", "a"),
            ("NFKC of roman numeral nine", "\u{2168}", "IX"),
            ("non-ASCII space becomes space", "a\u{00A0}b", "a b"),
            ("composed stays composed", "p\u{00E4}ss", "p\u{00E4}ss"),
            ("decomposed gets composed", "pa\u{0308}ss", "p\u{00E4}ss"),
            ("RTL only", "\u{0627}\u{0628}", "\u{0627}\u{0628}"),
        ]
        for testCase in cases {
            XCTAssertEqual(SASLprep.prepare(testCase.input), Array(testCase.expected.utf8), testCase.name)
        }
    }

    func testFailuresFallBackToRawBytesAsPostgreSQLDoes() {
        let cases: [(name: String, input: String)] = [
            ("control character among non-ASCII", "\u{00E4}\u{07}"),
            ("private use", "\u{00E4}\u{E000}"),
            ("non-character", "\u{00E4}\u{FFFF}"),
            ("mapped to nothing only", "\u{00AD}"),
            ("RTL then LTR letter", "\u{0627}a\u{0627}"),
            ("RTL not at the end", "\u{0627}1"),
            ("unassigned code point", "\u{00E4}\u{0378}"),
            ("decomposed with a prohibited character keeps raw form", "a\u{0308}\u{E000}"),
        ]
        for testCase in cases {
            XCTAssertEqual(SASLprep.prepare(testCase.input), Array(testCase.input.utf8), testCase.name)
        }
    }
}
