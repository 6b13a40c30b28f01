import XCTest
@testable import PGRelayCore

final class SessionStartupOptionsTests: XCTestCase {
    func testSettingsAreReadWithEveryAllowedSpelling() throws {
        let cases: [(String, [String])] = [
            ("", []),
            ("   ", []),
            ("-c datestyle=ISO", ["datestyle=ISO"]),
            ("  -c    datestyle=German,\\ YMD", ["datestyle=German, YMD"]),
            ("-c timezone=Europe/Lisbon  -c    datestyle=German,\\ YMD", ["timezone=Europe/Lisbon", "datestyle=German, YMD"]),
            ("-ctimezone=Europe/Lisbon  -cdatestyle=German,\\ YMD", ["timezone=Europe/Lisbon", "datestyle=German, YMD"]),
            ("--timezone=Europe/Lisbon  --datestyle=German,\\ YMD", ["timezone=Europe/Lisbon", "datestyle=German, YMD"]),
            ("-c t\\imezone=\\E\\u\\r\\o\\pe/Lisbon  -c    dat\\estyle\\=\\Ge\\rman,\\ YMD",
             ["timezone=Europe/Lisbon", "datestyle=German, YMD"]),
            ("-c search_path=a=b", ["search_path=a=b"]),
            ("-c application_name=", ["application_name="]),
            ("-c a=b\t--c=d\n", ["a=b", "c=d"]),
            ("-c a=trailing\\", ["a=trailing"]),
        ]
        for (options, expected) in cases {
            let parsed = try StartupOptions.parse(options).map { "\($0.name)=\($0.value)" }
            XCTAssertEqual(parsed, expected, options)
        }
    }

    func testAnythingButSettingsIsRefusedWithPgBouncersMessage() {
        for options in ["-d", "-c timezone", "-B 100", "datestyle=ISO", "-c a=b -x", "--nothing", "-", "-c"] {
            XCTAssertThrowsError(try StartupOptions.parse(options), options) { error in
                XCTAssertEqual(error as? StartupOptions.Failure, .notSettings)
                XCTAssertEqual((error as? StartupOptions.Failure)?.message,
                               "unsupported options startup parameter: only '-c config=val' and '--config=val' are allowed")
            }
        }
    }
}
