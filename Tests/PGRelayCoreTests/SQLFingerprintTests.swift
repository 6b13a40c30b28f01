import XCTest
@testable import PGRelayCore

final class SQLFingerprintTests: XCTestCase {
    static let cases: [(String, String)] = [
        // numbers and strings
        ("SELECT 1", "SELECT $1"),
        ("SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = $1"),
        ("SELECT * FROM t WHERE name = 'x' AND id = 1", "SELECT * FROM t WHERE name = $1 AND id = $2"),
        ("SELECT 1.5e10, .5, 0x1F", "SELECT $1, $2, $3"),
        ("SELECT 0b101, 0o17, 0xFF", "SELECT $1, $2, $3"),
        ("SELECT 1e-3", "SELECT $1"),
        ("SELECT 1_000_000", "SELECT $1"),
        ("SELECT 'a' || 'b'", "SELECT $1 || $2"),
        ("SELECT 'it''s'", "SELECT $1"),
        ("SELECT E'a\\'b'", "SELECT $1"),
        ("SELECT E'\\x'  , e'y'", "SELECT $1 , $2"),
        ("SELECT n'national'", "SELECT $1"),
        ("SELECT U&'!0041' UESCAPE '!'", "SELECT $1"),
        ("SELECT U&'\\0041', 2", "SELECT $1, $2"),
        ("SELECT B'101', X'FF'", "SELECT $1, $2"),
        ("SELECT $$abc$$", "SELECT $1"),
        ("SELECT $tag$ a $$ b $tag$", "SELECT $1"),
        ("SELECT $a$x$a$ || $b$y$b$", "SELECT $1 || $2"),
        ("SELECT 'a'\n'b'", "SELECT $1"),
        ("SELECT 'a'\n  -- c\n  'b', 1", "SELECT $1, $2"),
        ("SELECT 'a' /* c */\n'b'", "SELECT $1 $2"),
        ("SELECT 'a' 'b'", "SELECT $1 $2"),
        // keywords that are not literals
        ("SELECT TRUE, FALSE, NULL", "SELECT TRUE, FALSE, NULL"),
        ("SELECT * FROM t WHERE a IS NULL AND b = true", "SELECT * FROM t WHERE a IS NULL AND b = true"),
        // typed literals keep their type
        ("SELECT interval '1 day'", "SELECT interval $1"),
        ("SELECT '1 day'::interval", "SELECT $1::interval"),
        ("SELECT DATE '2020-01-01'", "SELECT DATE $1"),
        ("SELECT CAST('5' AS int)", "SELECT CAST($1 AS int)"),
        ("SELECT a::varchar(10) FROM t", "SELECT a::varchar($1) FROM t"),
        ("SELECT '{1,2}'::int[]", "SELECT $1::int[]"),
        // signs
        ("SELECT -1", "SELECT $1"),
        ("SELECT * FROM t WHERE x = -1", "SELECT * FROM t WHERE x = $1"),
        ("SELECT * FROM t WHERE x=-1", "SELECT * FROM t WHERE x=$1"),
        ("SELECT a - 1 FROM t", "SELECT a - $1 FROM t"),
        ("SELECT a-1 FROM t", "SELECT a-$1 FROM t"),
        ("SELECT 1 - -1", "SELECT $1 - $2"),
        ("SELECT -1 - 2", "SELECT $1 - $2"),
        ("SELECT (a) - 1 FROM t", "SELECT (a) - $1 FROM t"),
        ("SELECT f(-1, - 2)", "SELECT f($1, $2)"),
        ("SELECT +1", "SELECT +$1"),
        ("SELECT a FROM t WHERE b BETWEEN -5 AND 5", "SELECT a FROM t WHERE b BETWEEN $1 AND $2"),
        ("SELECT a FROM t LIMIT -1", "SELECT a FROM t LIMIT $1"),
        // existing parameters
        ("select * from t where a = $1 and b = 5", "select * from t where a = $1 and b = $2"),
        ("SELECT $2, 'x', $1", "SELECT $2, $3, $1"),
        ("SELECT $10, 1", "SELECT $10, $11"),
        ("SELECT $1::int", "SELECT $1::int"),
        ("PREPARE p AS SELECT $1 + 1", "PREPARE p AS SELECT $1 + $2"),
        ("SELECT 1, $99999999999999999999", "SELECT $1000000001, $99999999999999999999"),
        // IN lists
        ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN ($1)"),
        ("SELECT * FROM t WHERE id IN ('a','b')", "SELECT * FROM t WHERE id IN ($1)"),
        ("SELECT * FROM t WHERE id NOT IN (1,2)", "SELECT * FROM t WHERE id NOT IN ($1)"),
        ("SELECT * FROM t WHERE id IN ($1, $2, $3)", "SELECT * FROM t WHERE id IN ($1)"),
        ("SELECT * FROM t WHERE id IN ($3, 5)", "SELECT * FROM t WHERE id IN ($3)"),
        ("SELECT * FROM t WHERE id IN (5, $3)", "SELECT * FROM t WHERE id IN ($4)"),
        ("SELECT * FROM t WHERE id IN (-1, 2)", "SELECT * FROM t WHERE id IN ($1)"),
        ("SELECT * FROM t WHERE id IN(1,2)", "SELECT * FROM t WHERE id IN($1)"),
        ("SELECT * FROM t WHERE id in ( 7 )", "SELECT * FROM t WHERE id in ($1)"),
        ("SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x = 1)", "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x = $1)"),
        ("SELECT * FROM t WHERE id IN (a, b)", "SELECT * FROM t WHERE id IN (a, b)"),
        ("SELECT * FROM t WHERE id IN (1, a)", "SELECT * FROM t WHERE id IN ($1, a)"),
        ("SELECT * FROM t WHERE id IN ()", "SELECT * FROM t WHERE id IN ()"),
        ("SELECT * FROM t WHERE id IN (1,", "SELECT * FROM t WHERE id IN ($1,"),
        ("SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))", "SELECT * FROM t WHERE (a, b) IN (($1, $2), ($3, $4))"),
        ("SELECT 1 FROM t WHERE a IN (1) AND b IN (2, 3) AND c = 'x'", "SELECT $1 FROM t WHERE a IN ($2) AND b IN ($3) AND c = $4"),
        ("SELECT a FROM t WHERE b = $1 AND c IN (1, 2) AND d = 'x'", "SELECT a FROM t WHERE b = $1 AND c IN ($2) AND d = $3"),
        // whitespace, comments, separators
        ("SELECT   a,\n\tb  FROM t", "SELECT a, b FROM t"),
        ("SELECT /* secret 'x' */ a FROM t -- trailing", "SELECT a FROM t"),
        ("/* leading */ SELECT 1", "SELECT $1"),
        ("SELECT/**/1", "SELECT $1"),
        ("SELECT \n 1 \n", "SELECT $1"),
        ("SELECT 1;", "SELECT $1"),
        ("SELECT 1; SELECT 'a';", "SELECT $1; SELECT $2"),
        (";;SELECT 1;;SELECT 2;;", "SELECT $1; SELECT $2"),
        ("SELECT 1;SELECT 2", "SELECT $1; SELECT $2"),
        ("", ""),
        ("   ", ""),
        ("-- only a comment", ""),
        (";", ""),
        // identifiers and keywords keep their case
        ("SeLeCt \"MyCol\" FROM MyTable", "SeLeCt \"MyCol\" FROM MyTable"),
        ("SELECT \"col\"\"x\" FROM t", "SELECT \"col\"\"x\" FROM t"),
        ("SELECT tést FROM t WHERE x = 'é'", "SELECT tést FROM t WHERE x = $1"),
        // statements of every kind
        ("INSERT INTO t (a, b) VALUES (1, 'x')", "INSERT INTO t (a, b) VALUES ($1, $2)"),
        ("INSERT INTO t VALUES (1, 2), (3, 4)", "INSERT INTO t VALUES ($1, $2), ($3, $4)"),
        ("UPDATE t SET a = 'x', b = 2 WHERE id = 3", "UPDATE t SET a = $1, b = $2 WHERE id = $3"),
        ("DELETE FROM t WHERE created < now() - interval '7 days'", "DELETE FROM t WHERE created < now() - interval $1"),
        ("SELECT pg_sleep(0.15)", "SELECT pg_sleep($1)"),
        ("SELECT * FROM t LIMIT 10 OFFSET 20", "SELECT * FROM t LIMIT $1 OFFSET $2"),
        ("SELECT ARRAY[1, 2]", "SELECT ARRAY[$1, $2]"),
        ("SELECT x->>'key' FROM t", "SELECT x->>$1 FROM t"),
        ("SELECT a[1:2] FROM t", "SELECT a[$1:$2] FROM t"),
        ("SELECT f(a => 1)", "SELECT f(a => $1)"),
        ("SELECT CASE WHEN a = 1 THEN 'x' ELSE 'y' END", "SELECT CASE WHEN a = $1 THEN $2 ELSE $3 END"),
        ("SET search_path = 'x'", "SET search_path = $1"),
        ("SET search_path = a, \"B\"", "SET search_path = $1, $2"),
        ("SET my.password = hunter2", "SET my.password = $1"),
        ("SET LOCAL x TO on", "SET LOCAL x TO $1"),
        ("SET x TO DEFAULT", "SET x TO DEFAULT"),
        ("SET ROLE admin", "SET ROLE $1"),
        ("SET SESSION AUTHORIZATION bob", "SET SESSION AUTHORIZATION $1"),
        ("SET TIME ZONE LOCAL", "SET TIME ZONE LOCAL"),
        ("SET TIME ZONE 'UTC'", "SET TIME ZONE $1"),
        ("SELECT 1; SET x = y", "SELECT $1; SET x = $2"),
        ("UPDATE t SET a = b", "UPDATE t SET a = b"),
        ("RESET my.password", "RESET my.password"),
        ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", "CREATE FUNCTION f() RETURNS int AS $1 LANGUAGE sql"),
        ("DO $$ BEGIN RAISE NOTICE 'x'; END $$", "DO $1"),
        ("EXPLAIN ANALYZE SELECT * FROM t WHERE a = 1", "EXPLAIN ANALYZE SELECT * FROM t WHERE a = $1"),
        ("COPY t FROM STDIN", "COPY t FROM STDIN"),
        ("BEGIN", "BEGIN"),
        ("SELECT a FROM t WHERE b = ?", "SELECT a FROM t WHERE b = ?"),
        ("SELECT * FROM t WHERE a = 1 FOR UPDATE", "SELECT * FROM t WHERE a = $1 FOR UPDATE"),
        ("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN UPDATE SET a = 1", "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN UPDATE SET a = $1"),
        // malformed input
        ("SELECT 'unterminated", "SELECT $1"),
        ("SELECT \"unterminated", "SELECT $1"),
        ("SELECT 1 /* unterminated", "SELECT $1"),
        ("SELECT $$ unterminated", "SELECT $1"),
        ("SELECT $ 1", "SELECT $ $1"),
        ("\\ \u{0}", "\\ \u{0}"),
    ]

    func testNormalizerTable() {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 80)
        for (input, expected) in Self.cases {
            XCTAssertEqual(SQLFingerprint.normalize(input), expected, input)
        }
    }

    func testBytesAndStringsNormalizeAlike() {
        for (input, expected) in Self.cases {
            XCTAssertEqual(Array(input.utf8).withUnsafeBytes { SQLFingerprint.normalize(utf8: $0) }, expected, input)
        }
        let invalidUTF8: [UInt8] = [0x53, 0x45, 0x4C, 0x45, 0x43, 0x54, 0x20, 0xFF, 0x20, 0x27, 0x78, 0x27]
        XCTAssertEqual(invalidUTF8.withUnsafeBytes { SQLFingerprint.normalize(utf8: $0) }, "SELECT \u{FFFD} $1")
    }

    func testNormalizingIsIdempotent() {
        for (input, _) in Self.cases {
            let once = SQLFingerprint.normalize(input)
            XCTAssertEqual(SQLFingerprint.normalize(once), once, input)
        }
    }

    func testLiteralsNeverLeak() {
        let secrets = ["SSN-123-45-6789", "123-45", "6789", "123456789", "hunter2", "s3cr3t", "4111", "dollar-secret"]
        let queries = [
            "SELECT * FROM p WHERE ssn = 'SSN-123-45-6789'",
            "SELECT * FROM p WHERE ssn = E'SSN-123-45-6789'",
            "SELECT * FROM p WHERE ssn = E'SSN-\\'123-45-6789'",
            "SELECT * FROM p WHERE ssn = $$SSN-123-45-6789$$",
            "SELECT * FROM p WHERE ssn = $tag$SSN-123-45-6789$tag$",
            "SELECT * FROM p WHERE ssn = U&'SSN-123-45-6789'",
            "SELECT * FROM p WHERE ssn = N'SSN-123-45-6789'",
            "SELECT * FROM p WHERE ssn = 'SSN-123'\n'-45-6789'",
            "SELECT * FROM p WHERE id = 123456789",
            "SELECT * FROM p WHERE id = -123456789",
            "SELECT * FROM p WHERE id IN (123456789, 4111)",
            "SELECT * FROM p WHERE id = 123456789.6789e2",
            "SELECT * FROM p WHERE card = X'4111'",
            "SELECT * FROM p WHERE ssn = 'SSN-123-45-6789",
            "SELECT * FROM p WHERE ssn = $$SSN-123-45-6789",
            "SELECT * FROM p /* ssn = 'SSN-123-45-6789' */ WHERE 1 = 1",
            "SELECT * FROM p -- hunter2\nWHERE 1 = 1",
            "ALTER ROLE bob PASSWORD 'hunter2'",
            "CREATE USER bob WITH PASSWORD 's3cr3t'",
            "SET my.secret = 's3cr3t'",
            "SET my.secret = s3cr3t",
            "SET my.secret TO \"s3cr3t\"",
            "SET ROLE s3cr3t",
            "SELECT set_config('my.secret', $x$dollar-secret$x$, false)",
            "SELECT '{\"ssn\": \"SSN-123-45-6789\"}'::jsonb",
            "SELECT 1; SELECT 'hunter2'",
            "SELECT * FROM p WHERE ssn = \"SSN-123-45-6789",
        ]
        for query in queries {
            let fingerprint = SQLFingerprint.normalize(query)
            for secret in secrets {
                XCTAssertFalse(fingerprint.contains(secret), "\(secret) leaked from \(query) into \(fingerprint)")
            }
        }
    }

    /// Random statements with a secret in a random literal form, at a random place, between
    /// random tokens: the secret never appears in the fingerprint, and fingerprints are stable.
    func testRandomStatementsNeverLeakTheirLiterals() {
        var generator = SplitMix64(seed: 0x5eed)
        let secret = "Zq7SecretValue"
        let literalForms = [
            "'\(secret)'", "E'\(secret)\\''", "$$\(secret)$$", "$s$\(secret)$s$", "U&'\(secret)'",
            "N'\(secret)'", "'pre''\(secret)'", "'\(secret)'\n'x'", "B'\(secret)'", "X'\(secret)'",
        ]
        let numericSecret = "918273645"
        let filler = [
            "SELECT", "*", "FROM", "t", "WHERE", "a", "=", "AND", "(", ")", ",", "IN", "::", "text", "-", "+",
            "/* c */", "-- c\n", "\n", ";", "\"Q\"", "$1", "[", "]", "||", "CASE", "WHEN", "THEN", "END", "x.y",
        ]
        for _ in 0..<3000 {
            var parts: [String] = []
            for _ in 0..<Int(generator.next() % 12) { parts.append(filler[Int(generator.next() % UInt64(filler.count))]) }
            let literal = generator.next() % 4 == 0
                ? (generator.next() % 2 == 0 ? "-" : "") + numericSecret + (generator.next() % 2 == 0 ? ".5e3" : "")
                : literalForms[Int(generator.next() % UInt64(literalForms.count))]
            // blanks around the literal: glued to a word, `t918273645` would be an identifier
            parts.insert(" \(literal) ", at: Int(generator.next() % UInt64(parts.count + 1)))
            let sql = parts.joined(separator: generator.next() % 3 == 0 ? "" : " ")
            let fingerprint = SQLFingerprint.normalize(sql)
            XCTAssertFalse(fingerprint.contains(secret), "leak: \(sql.debugDescription) → \(fingerprint)")
            XCTAssertFalse(fingerprint.contains(numericSecret), "leak: \(sql.debugDescription) → \(fingerprint)")
            XCTAssertFalse(fingerprint.contains("Zq7"), "leak: \(sql.debugDescription) → \(fingerprint)")
        }
    }

    /// Arbitrary bytes and token soup: no crash, output bounded, and a fingerprint of a
    /// fingerprint is itself.
    func testRandomInputIsHandledAndNormalizingIsIdempotent() {
        var generator = SplitMix64(seed: 42)
        let pieces = [
            "SELECT", " ", "\n", "'", "''", "E'", "\\", "$", "$$", "$a$", "$1", "$2", "\"", "/*", "*/", "--",
            "1", ".", "e", "5", "-", "+", "IN", "(", ")", ",", ";", "U&", "x", "=", "::", "é", "SET", "TO", "on",
        ]
        let classifier = SQLClassifier()
        for round in 0..<3000 {
            let sql: String
            if round % 2 == 0 {
                sql = (0..<Int(generator.next() % 24)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
            } else {
                let bytes = (0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                sql = String(decoding: bytes, as: UTF8.self)
            }
            _ = classifier.classify(sql)
            let once = SQLFingerprint.normalize(sql)
            XCTAssertLessThanOrEqual(once.utf8.count, SQLFingerprint.maximumLength + SQLFingerprint.truncationMarker.utf8.count)
            XCTAssertEqual(SQLFingerprint.normalize(once), once, sql.debugDescription)
        }
    }

    func testTruncation() {
        let columns = (0..<1000).map { "column_\($0)" }.joined(separator: ", ")
        let long = SQLFingerprint.normalize("SELECT \(columns) FROM t")
        XCTAssertTrue(long.hasSuffix(SQLFingerprint.truncationMarker))
        XCTAssertEqual(long.utf8.count, SQLFingerprint.maximumLength + SQLFingerprint.truncationMarker.utf8.count)

        let accents = SQLFingerprint.normalize("SELECT " + String(repeating: "é", count: 3000))
        XCTAssertFalse(accents.contains("\u{FFFD}"), "cut inside a UTF-8 sequence")
        XCTAssertLessThanOrEqual(accents.utf8.count, SQLFingerprint.maximumLength + SQLFingerprint.truncationMarker.utf8.count)
        XCTAssertTrue(accents.hasSuffix(SQLFingerprint.truncationMarker))

        let emoji = SQLFingerprint.normalize("SELECT a" + String(repeating: "😀", count: 10), maximumLength: 12)
        XCTAssertEqual(emoji, "SELECT a😀 ...")

        XCTAssertEqual(SQLFingerprint.normalize("SELECT 1", maximumLength: 8), "SELECT $ ...")
        XCTAssertEqual(SQLFingerprint.normalize("SELECT 1", maximumLength: 9), "SELECT $1")
        XCTAssertEqual(SQLFingerprint.normalize("SELECT 1", maximumLength: 0), SQLFingerprint.truncationMarker)
        XCTAssertEqual(SQLFingerprint.normalize("SELECT 1", maximumLength: -5), SQLFingerprint.truncationMarker)
        XCTAssertEqual(SQLFingerprint.normalize("", maximumLength: 0), "")
    }

    /// Found by Fuzz/FuzzSQL: each invalid UTF-8 byte comes out as a 3-byte U+FFFD, which pushed
    /// a fingerprint past its bound.
    func testInvalidUTF8StaysWithinTheBound() {
        let cases: [(bytes: [UInt8], maximumLength: Int, expected: String)] = [
            (Array("PREPARE nam".utf8) + [0xA4] + Array("d_pAs AS SELECT 1".utf8), 16, "PREPARE nam\u{FFFD}d_ ..."),
            (Array("SELECT ".utf8) + [UInt8](repeating: 0xFF, count: 40), 12, "SELECT \u{FFFD} ..."),
            ([0xC3], 2, " ..."),
            ([0xC3], 3, "\u{FFFD}"),
            (Array("SELECT x".utf8) + [0x80], 2000, "SELECT x\u{FFFD}"),
        ]
        for (bytes, maximumLength, expected) in cases {
            let fingerprint = bytes.withUnsafeBytes { SQLFingerprint.normalize(utf8: $0, maximumLength: maximumLength) }
            XCTAssertEqual(fingerprint, expected, "\(bytes)")
            XCTAssertLessThanOrEqual(fingerprint.utf8.count, maximumLength + SQLFingerprint.truncationMarker.utf8.count)
        }
    }

    func testHugeInputIsBounded() {
        let huge = "SELECT * FROM t WHERE id IN (" + (0..<100_000).map(String.init).joined(separator: ",") + ")"
        XCTAssertEqual(SQLFingerprint.normalize(huge), "SELECT * FROM t WHERE id IN ($1)")
        let hugeValues = "INSERT INTO t VALUES " + Array(repeating: "(1, 'x')", count: 50_000).joined(separator: ",")
        XCTAssertLessThanOrEqual(SQLFingerprint.normalize(hugeValues).utf8.count, 2010)
    }
}

/// A small deterministic generator, so random tests replay the same cases.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
