import Foundation
import XCTest
@testable import PGRelayCore

/// Differential tests against PostgreSQL's own parser. Tests/SQLCorpus/oracle.py runs each corpus
/// statement through libpg_query and records its verdict from the parse tree and
/// pg_query_normalize's output in oracle.jsonl; this test needs only that file.
final class SQLCorpusTests: XCTestCase {
    private struct Entry: Decodable {
        let sql: String
        let verdict: String
        let pg_normalized: String
    }

    private func loadCorpus() throws -> [Entry] {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SQLCorpus/oracle.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(Entry.self, from: Data($0.utf8)) }
    }

    func testClassifierNeverCallsAParsedWriteARead() throws {
        let corpus = try loadCorpus()
        XCTAssertGreaterThan(corpus.count, 1000)
        let classifier = SQLClassifier()
        var missedReads = 0
        for entry in corpus {
            let result = classifier.classify(entry.sql)
            if entry.verdict == "write" {
                XCTAssertFalse(result.isRead, "parse tree writes, classifier said read: \(entry.sql)")
            } else if entry.verdict == "read", !result.isRead {
                missedReads += 1
            }
        }
        // Reads sent to the primary only cost capacity; the corpus has a few on purpose
        // (EXPLAIN of a locking SELECT is plan-only for PostgreSQL but not for this oracle).
        XCTAssertLessThan(missedReads, corpus.count / 20, "too many reads classified as writes")
    }

    /// Our fingerprint must mask every constant pg_query_normalize masks. Both texts are put
    /// through our normalizer (which also collapses IN lists, strips comments and blanks) and
    /// compared with parameter numbers blanked out.
    func testFingerprintsMaskWhatPostgresMasks() throws {
        for entry in try loadCorpus() {
            // Deliberate differences: TRUE/FALSE/NULL stay keywords here (blanked below);
            // pg_query_normalize masks transaction modes (`SET TRANSACTION $1 ONLY`), keeps the
            // N of N'' (`n$1`) and masks a UESCAPE character separately; both mask the literal.
            if entry.sql.contains("SET TRANSACTION") || entry.sql.contains("SET SESSION CHARACTERISTICS")
                || entry.sql.range(of: "\\b[nN]'", options: .regularExpression) != nil
                || entry.sql.contains("UESCAPE") {
                continue
            }
            let ours = Self.blankNumbers(SQLFingerprint.normalize(entry.sql))
            let theirs = Self.blankNumbers(SQLFingerprint.normalize(entry.pg_normalized))
            XCTAssertEqual(ours, theirs, entry.sql)
        }
    }

    /// `$12` → `$`, and TRUE, FALSE, NULL → `$`.
    private static func blankNumbers(_ text: String) -> String {
        var result = ""
        var afterDollar = false
        for character in text {
            if afterDollar, character.isASCII, character.isNumber { continue }
            afterDollar = character == "$"
            result.append(character)
        }
        return result.replacingOccurrences(
            of: "\\b(true|false|null)\\b", with: "\\$", options: [.regularExpression, .caseInsensitive])
    }
}
