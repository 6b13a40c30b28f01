import XCTest
@testable import PGRelayCore

/// The read/write corpus: every statement here must classify exactly as listed.
final class SQLClassifierTests: XCTestCase {
    private let classifier = SQLClassifier(writeFunctions: ["audit_log", "billing.charge", " \"Touch\" "])

    /// Statements that may run on a replica.
    static let reads: [String] = [
        "SELECT 1",
        "select 1",
        "  SELECT 1  ",
        "SELECT 1;",
        "SELECT * FROM users WHERE id = 42",
        "SELECT 'DELETE FROM users'",
        "SELECT 'it''s an UPDATE'",
        "SELECT E'\\' ; DELETE FROM t; --'",
        "SELECT /* update */ 1",
        "SELECT /* nested /* delete */ still comment */ 1",
        "SELECT 1 -- ; DELETE FROM t",
        "SELECT $$ insert into t values (1) $$",
        "SELECT $body$ ; UPDATE t SET a = 1; $body$",
        "SELECT \"update\" FROM t",
        "SELECT \"delete\", \"insert\" FROM \"merge\"",
        "SELECT U&'\\0041 ; DROP TABLE t'",
        "SELECT B'1010', X'ff'",
        "SELECT count(*) FROM orders",
        "SELECT now()",
        "SELECT pg_sleep(0.1)",
        "SELECT inet_server_port()",
        "SELECT pg_is_in_recovery()",
        "SELECT a, b FROM t ORDER BY a LIMIT 10 OFFSET 5",
        "SELECT * FROM t WHERE a IN (SELECT b FROM u)",
        "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)",
        "SELECT * FROM t JOIN u USING (id)",
        "SELECT * FROM t FOR",
        "SELECT substring('abc' FROM 1 FOR 2)",
        "SELECT overlay('abc' PLACING 'x' FROM 2 FOR 1)",
        "SELECT a FROM t GROUP BY a HAVING count(*) > 1",
        "SELECT DISTINCT ON (a) a, b FROM t",
        "SELECT * FROM generate_series(1, 10)",
        "SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t",
        "SELECT 1 UNION ALL SELECT 2",
        "SELECT 1 INTERSECT SELECT 1",
        "SELECT 1 EXCEPT SELECT 2",
        "(SELECT 1) UNION (SELECT 2)",
        "((SELECT 1))",
        "SELECT ARRAY[1,2,3]",
        "SELECT '{1,2}'::int[]",
        "SELECT interval '1 day'",
        "SELECT CASE WHEN a THEN 1 ELSE 2 END FROM t",
        "SELECT lo_get(1234)",
        "SELECT currval_note FROM t",
        "SELECT nextval FROM t",
        "SELECT t.nextval FROM t",
        "SELECT pg_advisory_locks FROM t",
        "SELECT txid_current_snapshot()",
        "SELECT current_setting('work_mem')",
        "SELECT has_table_privilege('t', 'UPDATE')",
        "SELECT * FROM information_schema.triggers WHERE event_manipulation = 'INSERT'",
        "SELECT * FROM pg_stat_activity",
        "SELECT version()",
        "SELECT 1 AS \"into\"",
        "select/**/1",
        "SELECT\n\t1",
        "VALUES (1), (2)",
        "values (1, 'a')",
        "TABLE users",
        "table public.users",
        "SHOW search_path",
        "SHOW ALL",
        "show transaction_read_only",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
        "WITH a AS (SELECT 1), b AS (WITH c AS (SELECT 2) SELECT * FROM c) SELECT * FROM a, b",
        "WITH x AS MATERIALIZED (SELECT 1) SELECT * FROM x",
        "WITH x AS NOT MATERIALIZED (SELECT 1) SELECT * FROM x",
        "EXPLAIN SELECT 1",
        "EXPLAIN DELETE FROM t",
        "EXPLAIN UPDATE t SET a = 1",
        "EXPLAIN INSERT INTO t VALUES (1)",
        "EXPLAIN MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE",
        "EXPLAIN VERBOSE DELETE FROM t",
        "EXPLAIN (COSTS OFF) DELETE FROM t",
        "EXPLAIN (FORMAT JSON) UPDATE t SET a = 1",
        "EXPLAIN (ANALYZE false) DELETE FROM t",
        "EXPLAIN (ANALYZE off, COSTS off) DELETE FROM t",
        "EXPLAIN (ANALYZE 0) INSERT INTO t VALUES (1)",
        "EXPLAIN ANALYZE SELECT 1",
        "EXPLAIN ANALYZE VERBOSE SELECT * FROM t",
        "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t",
        "EXPLAIN SELECT nextval('s')",
        "EXPLAIN SELECT * FROM t FOR UPDATE",
        "explain analyse select 1",
        "COPY t TO STDOUT",
        "COPY t (a, b) TO STDOUT WITH (FORMAT csv)",
        "COPY (SELECT * FROM t WHERE a > 1) TO STDOUT",
        "copy (select 1 from t) to stdout csv header",
        "COPY BINARY t TO STDOUT",
        "BEGIN READ ONLY",
        "BEGIN TRANSACTION READ ONLY",
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        "START TRANSACTION READ ONLY",
        "START TRANSACTION ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE",
        "BEGIN READ ONLY; SELECT 1; COMMIT",
        "SELECT 1; SELECT 2",
        "SELECT 1;;;SELECT 2;",
        "SELECT 1; COMMIT",
        "SELECT 1; SET LOCAL statement_timeout = 100",
        "/* pgrelay:primary */ SELECT 1",
        "SELECT 'unterminated",
        "SELECT $$ unterminated",
        "SELECT 1 /* unterminated comment",
        "SELECT \"unterminated",
        "SELECT * FROM t WHERE a = 'x' -- trailing comment",
        "SELECT E'\\\\' , 1",
        "SELECT 'a'\n'b'",
        "SELECT 1 AS update_count",
        "SELECT updated_at FROM t",
        "SELECT * FROM deleted_rows",
        "SELECT intox FROM t",
    ]

    /// Statements that must go to the primary.
    static let writes: [String] = [
        "INSERT INTO t VALUES (1)",
        "insert into t select * from u",
        "INSERT INTO t SELECT 1 FROM u",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "delete from t where id = 1 returning *",
        "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN UPDATE SET a = u.a",
        "TRUNCATE t",
        "SELECT * FROM t FOR UPDATE",
        "SELECT * FROM t FOR NO KEY UPDATE",
        "SELECT * FROM t FOR SHARE",
        "SELECT * FROM t FOR KEY SHARE",
        "SELECT * FROM t FOR SHARE OF t NOWAIT",
        "SELECT * FROM t FOR UPDATE SKIP LOCKED",
        "select * from t for update of t",
        "SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)",
        "SELECT * FROM (SELECT * FROM t FOR SHARE) s",
        "SELECT 1 FROM t FOR\nUPDATE",
        "SELECT 1 FROM t FOR /* c */ UPDATE",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM u",
        "WITH i AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM i",
        "WITH m AS (MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE RETURNING *) SELECT 1",
        "WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM t RETURNING 1) SELECT * FROM c) SELECT * FROM b",
        "WITH x AS MATERIALIZED (UPDATE t SET a = 2 RETURNING a) SELECT * FROM x",
        "WITH x AS (SELECT 1) DELETE FROM t",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "WITH x AS (SELECT 1) UPDATE t SET a = 1",
        "SELECT * INTO new_table FROM t",
        "SELECT a INTO TEMP tmp FROM t",
        "select 1 into t2",
        "SELECT nextval('s')",
        "SELECT NEXTVAL('s')",
        "SELECT pg_catalog.nextval('s')",
        "SELECT \"nextval\"('s')",
        "SELECT nextval ('s')",
        "SELECT setval('s', 10)",
        "SELECT currval('s')",
        "SELECT lastval()",
        "SELECT id, nextval('s') FROM t",
        "SELECT * FROM t WHERE id = (SELECT nextval('s'))",
        "VALUES (nextval('s'))",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_advisory_xact_lock(1)",
        "SELECT pg_try_advisory_lock(1)",
        "SELECT pg_try_advisory_xact_lock_shared(1, 2)",
        "SELECT pg_advisory_unlock_all()",
        "SELECT set_config('search_path', 'x', false)",
        "SELECT txid_current()",
        "SELECT pg_current_xact_id()",
        "SELECT pg_notify('ch', 'msg')",
        "SELECT dblink_exec('conn', 'DELETE FROM t')",
        "SELECT lo_import('/tmp/x')",
        "SELECT lo_unlink(1234)",
        "SELECT lo_create(0)",
        "SELECT lo_put(1, 0, 'x')",
        "SELECT pg_terminate_backend(123)",
        "SELECT pg_cancel_backend(123)",
        "SELECT pg_switch_wal()",
        "SELECT pg_create_logical_replication_slot('s', 'pgoutput')",
        "SELECT audit_log('x')",
        "SELECT AUDIT_LOG('x')",
        "SELECT public.audit_log('x')",
        "SELECT charge(1)",
        "SELECT billing.charge(1)",
        "SELECT touch(1)",
        "TABLE t; SELECT audit_log(1)",
        "EXPLAIN ANALYZE DELETE FROM t",
        "EXPLAIN ANALYZE UPDATE t SET a = 1",
        "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
        "EXPLAIN ANALYZE VERBOSE UPDATE t SET a = 1",
        "EXPLAIN ANALYSE DELETE FROM t",
        "EXPLAIN VERBOSE ANALYZE DELETE FROM t",
        "EXPLAIN (ANALYZE) DELETE FROM t",
        "EXPLAIN (ANALYZE true) DELETE FROM t",
        "EXPLAIN (ANALYZE on, FORMAT JSON) UPDATE t SET a = 1",
        "EXPLAIN (FORMAT JSON, ANALYZE) MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE",
        "EXPLAIN (ANALYZE) SELECT * FROM t FOR UPDATE",
        "EXPLAIN ANALYZE SELECT nextval('s')",
        "EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "EXPLAIN ANALYZE SELECT * INTO t2 FROM t",
        "EXPLAIN EXECUTE stmt(1)",
        "EXPLAIN CREATE TABLE t2 AS SELECT 1",
        "EXPLAIN",
        "EXPLAIN ANALYZE",
        "COPY t FROM STDIN",
        "COPY t (a, b) FROM STDIN WITH (FORMAT csv)",
        "copy t from '/tmp/data.csv'",
        "COPY t TO '/tmp/out.csv'",
        "COPY t TO PROGRAM 'gzip > /tmp/x.gz'",
        "COPY (DELETE FROM t RETURNING *) TO STDOUT",
        "COPY (SELECT nextval('s')) TO STDOUT",
        "COPY (SELECT * FROM t FOR UPDATE) TO STDOUT",
        "COPY",
        "CREATE TABLE t (id int)",
        "CREATE TEMP TABLE tmp (id int)",
        "CREATE TEMPORARY TABLE tmp AS SELECT 1",
        "CREATE INDEX CONCURRENTLY i ON t (a)",
        "CREATE VIEW v AS SELECT * FROM t",
        "CREATE MATERIALIZED VIEW mv AS SELECT 1",
        "CREATE TABLE t2 AS SELECT * FROM t",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
        "CREATE OR REPLACE FUNCTION f() RETURNS int AS $fn$ BEGIN RETURN 1; END $fn$ LANGUAGE plpgsql",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
        "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END",
        "CREATE SEQUENCE s",
        "CREATE EXTENSION pg_trgm",
        "CREATE SCHEMA s",
        "ALTER TABLE t ADD COLUMN b int",
        "ALTER SEQUENCE s RESTART",
        "DROP TABLE t",
        "DROP TABLE IF EXISTS t CASCADE",
        "COMMENT ON TABLE t IS 'x'",
        "GRANT SELECT ON t TO u",
        "REVOKE ALL ON t FROM u",
        "REFRESH MATERIALIZED VIEW mv",
        "REINDEX TABLE t",
        "CLUSTER t",
        "DO $$ BEGIN PERFORM 1; END $$",
        "DO LANGUAGE plpgsql $$ BEGIN NULL; END $$",
        "DO 'BEGIN NULL; END'",
        "CALL p()",
        "CALL do_something(1, 'x')",
        "LOCK TABLE t",
        "LOCK t IN ACCESS EXCLUSIVE MODE",
        "VACUUM",
        "VACUUM ANALYZE t",
        "VACUUM (VERBOSE, ANALYZE) t",
        "ANALYZE t",
        "ANALYSE t",
        "CHECKPOINT",
        "SET search_path = x",
        "SET statement_timeout TO 0",
        "SET SESSION work_mem = '64MB'",
        "SET TIME ZONE 'UTC'",
        "SET ROLE admin",
        "SET SESSION AUTHORIZATION bob",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        "RESET ALL",
        "RESET search_path",
        "PREPARE p AS SELECT 1",
        "PREPARE p (int) AS SELECT $1",
        "EXECUTE p",
        "EXECUTE p(1)",
        "DEALLOCATE p",
        "DEALLOCATE ALL",
        "DISCARD ALL",
        "DISCARD PLANS",
        "LISTEN ch",
        "UNLISTEN *",
        "NOTIFY ch, 'payload'",
        "LOAD 'auto_explain'",
        "DECLARE c CURSOR FOR SELECT 1",
        "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t",
        "FETCH 10 FROM c",
        "MOVE NEXT IN c",
        "CLOSE c",
        "BEGIN",
        "BEGIN WORK",
        "BEGIN TRANSACTION",
        "START TRANSACTION",
        "BEGIN ISOLATION LEVEL SERIALIZABLE",
        "BEGIN READ WRITE",
        "BEGIN READ ONLY, READ WRITE",
        "START TRANSACTION READ WRITE",
        "BEGIN; SELECT 1; COMMIT",
        "BEGIN; SET TRANSACTION READ ONLY; SELECT 1; COMMIT",
        "BEGIN READ ONLY; COMMIT; BEGIN",
        "PREPARE TRANSACTION 'gx1'",
        "COMMIT PREPARED 'gx1'",
        "ROLLBACK PREPARED 'gx1'",
        "SELECT 1; DELETE FROM t",
        "SELECT 1; DELETE FROM t;",
        "DELETE FROM t; SELECT 1",
        "SELECT 1; SELECT 2; UPDATE t SET a = 1",
        "SELECT 'x'; INSERT INTO t VALUES ('; SELECT 1')",
        "SELECT $$;$$; DELETE FROM t",
        "/* pgrelay:replica */ DELETE FROM t",
        "SECURITY LABEL ON TABLE t IS 'x'",
        "IMPORT FOREIGN SCHEMA s FROM SERVER srv INTO local",
        "ALTER SYSTEM SET work_mem = '1GB'",
        "REASSIGN OWNED BY a TO b",
        "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING",
        "42",
        "garbage tokens here",
        "'just a string'",
        "(",
        "(DELETE FROM t)",
        "UPDATE",
    ]

    /// Statements that are neither: they follow whatever server the session or transaction has.
    static let neutral: [String] = [
        "",
        "   ",
        ";",
        ";;",
        "-- just a comment",
        "/* just a comment */",
        "/* unterminated comment",
        "COMMIT",
        "END",
        "ROLLBACK",
        "ABORT",
        "COMMIT AND CHAIN",
        "ROLLBACK TO SAVEPOINT s",
        "ROLLBACK TO s",
        "ROLLBACK WORK TO SAVEPOINT s",
        "SAVEPOINT s",
        "RELEASE SAVEPOINT s",
        "RELEASE s",
        "SET LOCAL statement_timeout = 100",
        "SET TRANSACTION READ ONLY",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SET CONSTRAINTS ALL DEFERRED",
        "COMMIT; ROLLBACK",
    ]

    func testReads() {
        for sql in Self.reads {
            let result = classifier.classify(sql)
            XCTAssertTrue(result.isRead, "expected read: \(sql)")
            XCTAssertFalse(result.isWrite, "expected read: \(sql)")
        }
    }

    func testWrites() {
        for sql in Self.writes {
            let result = classifier.classify(sql)
            XCTAssertFalse(result.isRead, "expected write: \(sql)")
            XCTAssertTrue(result.isWrite, "expected write: \(sql)")
        }
    }

    func testNeutral() {
        for sql in Self.neutral {
            let result = classifier.classify(sql)
            XCTAssertFalse(result.isRead, "expected neutral: \(sql.debugDescription)")
            XCTAssertFalse(result.isWrite, "expected neutral: \(sql.debugDescription)")
        }
    }

    func testAppendingAWriteMakesAnyTextAWrite() {
        // The newline ends a trailing `--` comment; texts that end inside a string or comment
        // would swallow the DELETE, exactly as the server would, so they are left out.
        for sql in Self.reads + Self.neutral where !sql.contains("unterminated") {
            XCTAssertTrue(classifier.classify(sql + "\n; DELETE FROM t").isWrite, sql)
            XCTAssertTrue(classifier.classify("UPDATE t SET a = 1; " + sql).isWrite, sql)
        }
        for sql in Self.writes {
            XCTAssertTrue(classifier.classify("SELECT 1; " + sql).isWrite, sql)
        }
    }

    func testLeadingCommentsAndBlanksChangeNothing() {
        for sql in Self.reads + Self.writes + Self.neutral {
            let plain = classifier.classify(sql)
            let decorated = classifier.classify("/* app:web */ \n -- trace\n  " + sql)
            XCTAssertEqual(decorated.isRead, plain.isRead, sql)
            XCTAssertEqual(decorated.isWrite, plain.isWrite, sql)
            XCTAssertEqual(decorated.facts, plain.facts, sql)
        }
    }

    func testCorpusIsLargeEnough() {
        XCTAssertGreaterThanOrEqual(Self.reads.count + Self.writes.count + Self.neutral.count, 300)
    }

    func testWithoutConfiguredFunctionsTheyAreReads() {
        let plain = SQLClassifier()
        XCTAssertTrue(plain.classify("SELECT audit_log('x')").isRead)
        XCTAssertTrue(plain.classify("SELECT billing.charge(1)").isRead)
        XCTAssertFalse(plain.classify("SELECT nextval('s')").isRead)
    }

    func testEmptyConfiguredNamesAreIgnored() {
        let odd = SQLClassifier(writeFunctions: ["", " ", ".", "\"\""])
        XCTAssertTrue(odd.classify("SELECT f(1)").isRead)
        XCTAssertTrue(odd.classify("SELECT \"\"(1)").isRead)
    }

    func testBytesAndStringsClassifyAlike() {
        for sql in Self.reads + Self.writes + Self.neutral {
            let fromBytes = Array(sql.utf8).withUnsafeBytes { classifier.classify(utf8: $0) }
            XCTAssertEqual(fromBytes, classifier.classify(sql), sql)
        }
        XCTAssertEqual(classifier.classify(utf8: UnsafeRawBufferPointer(start: nil, count: 0)), SQLClassification())
        let invalidUTF8: [UInt8] = [0x53, 0x45, 0x4C, 0x45, 0x43, 0x54, 0x20, 0xFF, 0xFE, 0x3B, 0x20, 0x31]
        XCTAssertTrue(invalidUTF8.withUnsafeBytes { classifier.classify(utf8: $0) }.isWrite)
    }

    func testStatementCount() {
        let cases: [(String, Int)] = [
            ("", 0), (";", 0), ("SELECT 1", 1), ("SELECT 1;", 1), ("SELECT 1; SELECT 2", 2),
            ("SELECT 1;;SELECT 2;;", 2), ("SELECT ';'; SELECT 2", 2), ("SELECT $$;$$", 1),
            ("/* ; */ SELECT 1 -- ;", 1), ("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3", 2),
            ("CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END; END; SELECT 3", 2),
            ("CREATE TABLE t (begin int); SELECT 1", 2),
        ]
        for (sql, count) in cases {
            XCTAssertEqual(classifier.classify(sql).statementCount, count, sql)
        }
    }

    func testHugeInputs() {
        let manySelects = String(repeating: "SELECT 1; ", count: 20_000)
        let reads = classifier.classify(manySelects)
        XCTAssertTrue(reads.isRead)
        XCTAssertEqual(reads.statementCount, 20_000)
        XCTAssertTrue(classifier.classify(manySelects + "DELETE FROM t").isWrite)
        let longLiteral = "SELECT '" + String(repeating: "delete ", count: 200_000) + "'"
        XCTAssertTrue(classifier.classify(longLiteral).isRead)
        let deepParens = String(repeating: "(", count: 100_000) + "SELECT 1" + String(repeating: ")", count: 100_000)
        XCTAssertTrue(classifier.classify(deepParens).isRead)
        let binaryJunk = String(decoding: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }, as: UTF8.self)
        _ = classifier.classify(binaryJunk)  // must not crash
    }
}
