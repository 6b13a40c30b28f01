import XCTest

@testable import PGRelayCore

final class AuthFileTests: XCTestCase {
    func testValidFiles() throws {
        let cases: [(name: String, text: String, expected: [String: String])] = [
            ("empty", "", [:]),
            ("blank lines and comments", "\n   \n; comment\n# other comment\n\t# indented\n", [:]),
            ("one entry", "\"alice\" \"secret\"\n", ["alice": "secret"]),
            ("no final newline", "\"alice\" \"secret\"", ["alice": "secret"]),
            ("CRLF", "\"alice\" \"a\"\r\n\"bob\" \"b\"\r\n", ["alice": "a", "bob": "b"]),
            ("escaped quotes", "\"al\"\"ice\" \"se\"\"cr\"\"et\"\"\"", ["al\"ice": "se\"cr\"et\""]),
            ("extra fields ignored", "\"alice\" \"secret\" \"ignored\" ; trailing", ["alice": "secret"]),
            ("tabs and indentation", "\t \"alice\"\t\"secret\"", ["alice": "secret"]),
            ("empty secret", "\"alice\" \"\"", ["alice": ""]),
            ("spaces and # inside quotes", "\"a b\" \"p ; # w\"", ["a b": "p ; # w"]),
            ("last duplicate wins", "\"alice\" \"one\"\n\"alice\" \"two\"", ["alice": "two"]),
            ("unicode", "\"rôle\" \"pässwörd\"", ["rôle": "pässwörd"]),
            (
                "all secret kinds",
                """
                "plain" "pw"
                "md5user" "md520c46e3762c864548e296b33c3406aa9"
                "scramuser" "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
                """,
                [
                    "plain": "pw", "md5user": "md520c46e3762c864548e296b33c3406aa9",
                    "scramuser":
                        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
                ]
            ),
        ]
        for testCase in cases {
            XCTAssertEqual(
                try AuthFile.parse(text: testCase.text, path: "userlist.txt"), testCase.expected, testCase.name)
        }
    }

    func testMalformedLinesNameFileAndLineWithoutQuotingSecrets() {
        let cases: [(name: String, text: String, line: Int, reason: String)] = [
            ("unquoted user", "alice \"secret\"", 1, "expected a double-quoted user name"),
            ("missing secret", "\n\"alice\"", 2, "expected a double-quoted secret after the user name"),
            ("unquoted secret", "\"alice\" hunter2", 1, "expected a double-quoted secret after the user name"),
            ("unterminated user", "\"alice", 1, "unterminated quoted user name"),
            ("unterminated secret", "; ok\n\"a\" \"b\"\n\"alice\" \"hunter2", 3, "unterminated quoted secret"),
            ("no separator", "\"alice\"x \"y\"", 1, "expected whitespace after the user name"),
            ("doubled quotes join the fields", "\"alice\"\"x\" \"y\"\"", 1, "unterminated quoted secret"),
            ("empty user", "\"\" \"secret\"", 1, "empty user name"),
            ("secret on next line", "\"alice\"\n\"secret\"", 1, "expected a double-quoted secret after the user name"),
        ]
        for testCase in cases {
            XCTAssertThrowsError(try AuthFile.parse(text: testCase.text, path: "/etc/userlist.txt"), testCase.name) {
                error in
                guard let error = error as? AuthFileError else { return XCTFail("\(testCase.name): \(error)") }
                XCTAssertEqual(error.path, "/etc/userlist.txt", testCase.name)
                XCTAssertEqual(error.line, testCase.line, testCase.name)
                XCTAssertEqual(error.reason, testCase.reason, testCase.name)
                XCTAssertEqual(error.description, "/etc/userlist.txt:\(testCase.line): \(testCase.reason)")
                XCTAssertFalse(error.description.contains("hunter2"), testCase.name)
            }
        }
    }

    func testLoadReadsFileAndReportsMissingOnes() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pgrelay-authfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("userlist.txt").path
        try "\"alice\" \"secret\"\n\"bob\" \"md520c46e3762c864548e296b33c3406aa9\"\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(
            try AuthFile.load(path: path),
            ["alice": "secret", "bob": "md520c46e3762c864548e296b33c3406aa9"])

        let missing = directory.appendingPathComponent("absent.txt").path
        XCTAssertThrowsError(try AuthFile.load(path: missing)) { error in
            XCTAssertEqual((error as? AuthFileError)?.path, missing)
            XCTAssertEqual((error as? AuthFileError)?.line, 0)
        }

        let binary = directory.appendingPathComponent("binary.txt").path
        try Data([0x22, 0xFF, 0xFE, 0x22]).write(to: URL(fileURLWithPath: binary))
        XCTAssertThrowsError(try AuthFile.load(path: binary)) { error in
            XCTAssertEqual((error as? AuthFileError)?.reason, "file is not valid UTF-8")
        }
    }
}
