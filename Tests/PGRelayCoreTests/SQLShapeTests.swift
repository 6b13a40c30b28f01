import XCTest
@testable import PGRelayCore

final class SQLShapeTests: XCTestCase {
    private func shape(_ sql: String) -> UInt64 {
        Array(sql.utf8).withUnsafeBytes { SQLShape.hash(utf8: $0) }
    }

    /// Replaces every digit by another and every letter inside '...' by another, which changes
    /// constants only (the corpus has no digits outside constants and `$n`, which are skipped).
    private func withOtherConstants(_ sql: String) -> String {
        var out = ""
        var inString = false
        var previous: Character = " "
        for character in sql {
            if character == "'" { inString.toggle() }
            if !inString, character.isNumber, previous != "$", !(previous.isLetter || previous == "_") {
                out.append(character == "7" ? "3" : "7")
            } else if inString, character.isLetter {
                out.append(character == "q" ? "z" : "q")
            } else {
                out.append(character)
            }
            previous = character
        }
        return out
    }

    func testSameShapeMeansSameFingerprintOverTheNormalizerCorpus() {
        var compared = 0
        for (sql, _) in SQLFingerprintTests.cases {
            let variant = withOtherConstants(sql)
            if shape(sql) == shape(variant) {
                compared += 1
                XCTAssertEqual(SQLFingerprint.normalize(sql), SQLFingerprint.normalize(variant), "\(sql) vs \(variant)")
            }
        }
        // Most of the corpus must take part, or the loop above proves nothing.
        XCTAssertGreaterThan(compared, SQLFingerprintTests.cases.count / 2, "only \(compared) of \(SQLFingerprintTests.cases.count) compared")
    }

    func testConstantsDoNotChangeTheShape() {
        let pairs: [(String, String)] = [
            ("SELECT abalance FROM pgbench_accounts WHERE aid = 42", "SELECT abalance FROM pgbench_accounts WHERE aid = 917"),
            ("SELECT * FROM t WHERE name = 'alice'", "SELECT * FROM t WHERE name = 'SSN-123-45-6789'"),
            ("SELECT $$a$$", "SELECT $$bcd$$"),
            ("UPDATE t SET x = 1.5e3 WHERE id IN (1, 2)", "UPDATE t SET x = 2.0e1 WHERE id IN (9, 8)"),
        ]
        for (a, b) in pairs {
            XCTAssertEqual(shape(a), shape(b), "\(a) / \(b)")
            XCTAssertEqual(SQLFingerprint.normalize(a), SQLFingerprint.normalize(b))
        }
    }

    func testEverythingElseChangesTheShape() {
        let pairs: [(String, String)] = [
            ("SELECT a FROM t WHERE id = 1", "SELECT b FROM t WHERE id = 1"),
            ("SELECT * FROM t1", "SELECT * FROM t2"),
            ("SELECT $1", "SELECT $2"),
            ("SELECT 'a'", "SELECT E'a'"),
            ("SELECT 'a'", "SELECT 'a"),
            ("SELECT 'a' 'b'", "SELECT 'a'\n'b'"),
            ("SELECT -1", "SELECT 1"),
            ("SELECT 1", "SELECT 'x'"),
            ("SELECT 1 IN (1, 2)", "SELECT 1 IN (1, x)"),
            ("SET a = on", "SET a = off"),
            ("ab", "a b"),
            ("", " "),
        ]
        for (a, b) in pairs {
            XCTAssertNotEqual(shape(a), shape(b), "\(a) / \(b)")
        }
    }

    private func plain(_ sql: String) -> (hash: UInt64, hasLiterals: Bool)? {
        Array(sql.utf8).withUnsafeBytes { SQLShape.plainHash(utf8: $0) }
    }

    /// The plain hash is only taken for texts whose numbers are bare digit runs; everything
    /// the lexer reads differently is left to `hash(utf8:)`.
    func testPlainTextsAndTheTextsThatNeedTheLexer() {
        let cases: [(sql: String, plain: Bool, literals: Bool)] = [
            ("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;", true, true),
            ("SELECT 1", true, true),
            ("select * from t1 where a_2 = 3 and b in (1, 2,3)", true, true),
            ("SELECT x FROM t WHERE y<=10 AND z>0", true, true),
            ("UPDATE t SET n = n + 1 WHERE id = 7", true, true),
            ("SELECT t.a FROM s.t", true, false),
            ("BEGIN", true, false),
            ("", true, false),
            ("SELECT 1.5", false, false), ("SELECT .5", false, false), ("SELECT t.1", false, false),
            ("SELECT 1e5", false, false), ("SELECT 0x1F", false, false), ("SELECT 1_000", false, false),
            ("SELECT 1a", false, false), ("SELECT -1", false, false), ("SELECT 'a'", false, false),
            ("SELECT \"a\"", false, false), ("SELECT 1 -- x", false, false),
            ("SELECT abalance FROM pgbench_accounts WHERE aid = $1;", true, false), ("SELECT $1", true, false),
            ("SELECT $12, 3", true, true), ("SELECT f($1,$2)", true, false), ("SELECT $1a", false, false),
            ("SELECT a$1", false, false), ("SELECT 1$1", false, false), ("SELECT $$x$$", false, false),
            ("SELECT $x$ a $x$", false, false), ("SELECT $", false, false), ("SELECT $1$", false, false),
            ("SELECT $1.5", false, false), ("SELECT $1_", false, false),
            ("SELECT 1 /* x */", false, false), ("SELECT 1::int", false, false), ("SELECT 'é'", false, false),
            ("SELECT 2/1", false, false),
        ]
        for test in cases {
            let result = plain(test.sql)
            XCTAssertEqual(result != nil, test.plain, test.sql)
            if let result { XCTAssertEqual(result.hasLiterals, test.literals, test.sql) }
        }
    }

    /// Same plain hash, same fingerprint: over the normalizer corpus, and over random plain
    /// statements whose numbers are changed (the property the fast path rests on).
    func testSamePlainHashMeansSameFingerprint() {
        var compared = 0
        for (sql, _) in SQLFingerprintTests.cases {
            let variant = withOtherConstants(sql)
            guard let a = plain(sql), let b = plain(variant) else { continue }
            if a.hash == b.hash {
                compared += 1
                XCTAssertEqual(SQLFingerprint.normalize(sql), SQLFingerprint.normalize(variant), "\(sql) vs \(variant)")
            }
        }
        XCTAssertGreaterThan(compared, 10, "too few corpus texts are plain")

        var generator = SystemRandomNumberGenerator()
        let pieces = ["SELECT", " ", "a", "t1", "x_2", "=", "<", ">", "(", ")", ",", "*", "+", ";", ".", "IN", "\n", "7", "42", "0",
                      "$", "$1", "$23"]
        var plainPairs = 0
        for _ in 0 ..< 3000 {
            let sql = (0 ..< Int.random(in: 1 ... 14, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            let variant = String(sql.map { $0.isNumber ? Character(String(Int.random(in: 0 ... 9, using: &generator))) : $0 })
            guard let a = plain(sql), let b = plain(variant) else { continue }
            plainPairs += 1
            if a.hash == b.hash {
                XCTAssertEqual(SQLFingerprint.normalize(sql), SQLFingerprint.normalize(variant), "\(sql) vs \(variant)")
            }
        }
        XCTAssertGreaterThan(plainPairs, 300)
    }

    func testPlainHashKeepsEverythingButNumbers() {
        let different: [(String, String)] = [
            ("SELECT a FROM t WHERE id = 1", "SELECT b FROM t WHERE id = 1"),
            ("SELECT * FROM t1", "SELECT * FROM t2"),
            ("SELECT 1, 2", "SELECT 1,2"),
            ("SELECT 1 IN (1, 2)", "SELECT 1 IN (1, x)"),
            ("SELECT x1", "SELECT x 1"),
            ("SELECT $1", "SELECT $2"),
            ("SELECT $1", "SELECT 1"),
        ]
        for (a, b) in different {
            XCTAssertNotEqual(plain(a)?.hash, plain(b)?.hash, "\(a) / \(b)")
        }
        XCTAssertEqual(plain("SELECT 1 FROM t WHERE a = 22")?.hash, plain("SELECT 934 FROM t WHERE a = 0")?.hash)
    }

    /// Runs of letters, spaces and punctuation are hashed eight bytes at a time: numbers of
    /// other lengths move every byte after them, and the texts must still meet in one hash; a
    /// changed byte anywhere in a long run (first, middle, last of a word, or in the rest after
    /// the last whole word) must still change it.
    func testPlainHashOverLongRunsAndNumbersOfEveryLength() {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["SELECT", " ", "abalance", "pgbench_accounts", "t1", "x_2", "=", "<", "(", ")", ",", "*", ";", ".",
                      "WHERE", "\n", "#N", "#N", "$1"]
        func render(_ template: [String]) -> String {
            template.map { $0 == "#N" ? String(UInt64.random(in: 0 ... 9_999_999_999, using: &generator)) : $0 }.joined()
        }
        var equalPairs = 0
        for _ in 0 ..< 3000 {
            let template = (0 ..< Int.random(in: 1 ... 20, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }
            let a = render(template), b = render(template)
            guard let hashA = plain(a), let hashB = plain(b) else { continue }
            if SQLFingerprint.normalize(a) == SQLFingerprint.normalize(b) {
                equalPairs += 1
                XCTAssertEqual(hashA.hash, hashB.hash, "\(a) vs \(b)")
            }
        }
        XCTAssertGreaterThan(equalPairs, 300)

        let base = "SELECT abalance, bbalance FROM pgbench_accounts WHERE aid = 4711 AND bid = 2;"
        let bytes = Array(base.utf8)
        var seen: Set<UInt64> = [plain(base)!.hash]
        for position in bytes.indices where bytes[position].isASCIILetterForTest {
            var changed = bytes
            changed[position] = bytes[position] == UInt8(ascii: "q") ? UInt8(ascii: "z") : UInt8(ascii: "q")
            let text = String(decoding: changed, as: UTF8.self)
            XCTAssertTrue(seen.insert(plain(text)!.hash).inserted, "\(text) has the hash of another text")
        }
        XCTAssertEqual(plain("SELECT abalance FROM pgbench_accounts WHERE aid = 1;")?.hash,
                       plain("SELECT abalance FROM pgbench_accounts WHERE aid = 9876543210;")?.hash)
        XCTAssertNotEqual(plain("SELECT abalance FROM pgbench_accounts WHERE aid = 1;")?.hash,
                          plain("SELECT abalance FROM pgbench_accounts WHERE aid = 1; ")?.hash)
    }

    /// The session-state scan kept with a plain shape answers as the scan itself would, for
    /// the text that made the entry and for the next texts of that shape (other numbers), and
    /// texts that are not plain are scanned each time.
    func testFingerprintAndMentionsAgreeWithTheScan() {
        var cache = FingerprintCache()
        let texts = [
            "SELECT pg_advisory_lock(1)", "SELECT pg_advisory_lock(22)", "LISTEN orders", "LISTEN orders",
            "SELECT a FROM t WHERE id = 1", "SELECT a FROM t WHERE id = 4711", "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 2", "SELECT 'hold'", "SELECT 'x'", "SELECT 1 -- listen", "SELECT 1 -- x",
            "select * from listeners where n = 3", "select * from t where n = 3",
        ]
        // A fingerprint made before the scan was asked for (fingerprint(utf8:)) gets it later.
        _ = Array("select * from t where n = 9".utf8).withUnsafeBytes { cache.fingerprint(utf8: $0) }
        for _ in 0 ..< 2 {
            for sql in texts {
                let result = Array(sql.utf8).withUnsafeBytes { cache.fingerprintAndMentions(utf8: $0) }
                XCTAssertEqual(result.fingerprint, SQLFingerprint.normalize(sql), sql)
                XCTAssertEqual(result.mayMentionSessionState, SessionStateMentions.mayMention(Array(sql.utf8)), sql)
            }
        }
    }

    func testFingerprintCacheByShape() {
        var cache = FingerprintCache(capacity: 8, shapeCapacity: 2)
        let texts = ["SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = 2", "SELECT * FROM u WHERE id = 'x'",
                     "SELECT * FROM v WHERE id = 3", "SELECT * FROM t WHERE id = 4"]
        for sql in texts {
            let fingerprint = Array(sql.utf8).withUnsafeBytes { cache.fingerprint(utf8: $0) }
            XCTAssertEqual(fingerprint, SQLFingerprint.normalize(sql), sql)
            XCTAssertLessThanOrEqual(cache.shapeCount, 2)
        }
        XCTAssertEqual(cache.count, 0)  // texts with literals are never stored by text
    }
}

private extension UInt8 {
    var isASCIILetterForTest: Bool { (0x41 ... 0x5A).contains(self) || (0x61 ... 0x7A).contains(self) }
}
