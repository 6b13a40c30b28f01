import XCTest
@testable import PGRelayCore

/// Transaction and session facts, SET/RESET names, DEALLOCATE targets and routing hints.
final class SQLClassifierFactsTests: XCTestCase {
    private let classifier = SQLClassifier()
    private typealias Facts = SQLClassification.Facts

    /// Facts other than containsRead/containsWrite (those are covered by the corpus).
    private func facts(_ sql: String) -> Facts {
        classifier.classify(sql).facts.subtracting([.containsRead, .containsWrite])
    }

    func testTransactionAndSessionFacts() {
        let cases: [(String, Facts)] = [
            ("BEGIN", [.beginsTransaction]),
            ("begin work", [.beginsTransaction]),
            ("START TRANSACTION", [.beginsTransaction]),
            ("BEGIN READ ONLY", [.beginsTransaction, .readOnlyTransaction]),
            ("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", [.beginsTransaction, .readOnlyTransaction]),
            ("BEGIN ISOLATION LEVEL READ COMMITTED", [.beginsTransaction]),
            ("BEGIN READ WRITE", [.beginsTransaction]),
            ("COMMIT", [.endsTransaction]),
            ("COMMIT WORK", [.endsTransaction]),
            ("END", [.endsTransaction]),
            ("END TRANSACTION", [.endsTransaction]),
            ("ROLLBACK", [.endsTransaction]),
            ("ABORT", [.endsTransaction]),
            ("COMMIT AND CHAIN", [.endsTransaction, .beginsTransaction]),
            ("ROLLBACK AND NO CHAIN", [.endsTransaction]),
            ("ROLLBACK TO SAVEPOINT a", []),
            ("ROLLBACK TRANSACTION TO a", []),
            ("COMMIT PREPARED 'x'", []),
            ("ROLLBACK PREPARED 'x'", []),
            ("PREPARE TRANSACTION 'x'", [.endsTransaction]),
            ("SAVEPOINT a", []),
            ("SET TRANSACTION READ ONLY", [.readOnlyTransaction]),
            ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", []),
            ("SET LOCAL work_mem = '1MB'", []),
            ("SET CONSTRAINTS ALL IMMEDIATE", []),
            ("SET work_mem = '1MB'", [.setsSessionState, .isSet]),
            ("SET SESSION work_mem TO '1MB'", [.setsSessionState, .isSet]),
            ("SET SESSION AUTHORIZATION bob", [.setsSessionState, .isSet]),
            ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", [.setsSessionState]),
            ("RESET ALL", [.setsSessionState, .isReset]),
            ("RESET work_mem", [.setsSessionState, .isReset]),
            ("LISTEN ch", [.setsSessionState, .isListen]),
            ("UNLISTEN ch", []),
            ("NOTIFY ch", []),
            ("PREPARE q AS SELECT 1", [.setsSessionState]),
            ("EXECUTE q", []),
            ("DISCARD ALL", [.isDiscardAll]),
            ("DISCARD TEMP", []),
            ("CREATE TEMP TABLE t (a int)", [.setsSessionState]),
            ("CREATE TEMPORARY TABLE t (a int)", [.setsSessionState]),
            ("CREATE LOCAL TEMP TABLE t (a int)", [.setsSessionState]),
            ("CREATE GLOBAL TEMPORARY TABLE t (a int)", [.setsSessionState]),
            ("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", [.setsSessionState]),
            ("CREATE TEMP SEQUENCE s", [.setsSessionState]),
            ("CREATE TABLE pg_temp.t (a int)", [.setsSessionState]),
            ("CREATE TABLE t (temp int)", []),
            ("CREATE UNLOGGED TABLE t (a int)", []),
            ("SELECT a INTO TEMP tmp FROM t", [.setsSessionState]),
            ("SELECT a INTO TEMPORARY TABLE tmp FROM t", [.setsSessionState]),
            ("SELECT a INTO tmp FROM t", []),
            ("SELECT a INTO pg_temp.tmp FROM t", [.setsSessionState]),
            ("BEGIN; SET TRANSACTION READ ONLY", [.beginsTransaction, .readOnlyTransaction]),
            ("SELECT pg_advisory_lock(1)", [.setsSessionState]),
            ("SELECT pg_try_advisory_lock_shared(1)", [.setsSessionState]),
            ("SELECT pg_advisory_xact_lock(1)", []),
            ("SELECT pg_advisory_unlock(1)", []),
            ("SELECT set_config('a.b', 'c', false)", [.setsSessionState]),
            ("DECLARE c CURSOR WITH HOLD FOR SELECT 1", [.setsSessionState]),
            ("DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1", []),
            ("LOAD 'auto_explain'", [.setsSessionState]),
            ("SELECT 1", []),
            ("BEGIN; SELECT 1; COMMIT", [.beginsTransaction, .endsTransaction]),
            ("SET a.b = 1; LISTEN x", [.setsSessionState, .isSet, .isListen]),
        ]
        for (sql, expected) in cases {
            XCTAssertEqual(facts(sql), expected, sql)
        }
    }

    func testParameterNames() {
        let cases: [(String, String?)] = [
            ("SET search_path TO app, public", "search_path"),
            ("SET Search_Path = app", "search_path"),
            ("set session statement_timeout = 5", "statement_timeout"),
            ("SET \"TimeZone\" = 'UTC'", "TimeZone"),
            ("SET TIME ZONE 'Europe/Berlin'", "timezone"),
            ("SET TIME ZONE LOCAL", "timezone"),
            ("SET NAMES 'UTF8'", "client_encoding"),
            ("SET SCHEMA 'app'", "search_path"),
            ("SET XML OPTION DOCUMENT", "xmloption"),
            ("SET ROLE admin", "role"),
            ("SET SESSION AUTHORIZATION DEFAULT", "session_authorization"),
            ("SET SESSION SESSION AUTHORIZATION bob", "session_authorization"),
            ("SET myapp.user_id = '42'", "myapp.user_id"),
            ("SET myapp. = 1", nil),
            ("SET", nil),
            ("SET = 1", nil),
            ("RESET ALL", "all"),
            ("RESET TIME ZONE", "timezone"),
            ("RESET ROLE", "role"),
            ("RESET SESSION AUTHORIZATION", "session_authorization"),
            ("RESET statement_timeout", "statement_timeout"),
            ("SET a = 1; SET b = 2", "b"),
            ("SET LOCAL a = 1", nil),
            ("SET ÉTÉ = 1", "ÉtÉ"),  // PostgreSQL folds only ASCII letters
            ("SET " + String(repeating: "x", count: 100) + " = 1", String(repeating: "x", count: 63)),
            ("SET a.b.c.d.e.f.g.h = 1", "a.b.c.d.e.f.g.h"),
            ("SET a.b.c.d.e.f.g.h.i = 1", nil),
            ("SELECT 1", nil),
        ]
        for (sql, name) in cases {
            XCTAssertEqual(classifier.classify(sql).parameterName, name, sql)
        }
    }

    func testSetValueIsNeverKept() {
        let result = classifier.classify("SET my.secret = 'hunter2'")
        XCTAssertEqual(result.parameterName, "my.secret")
        XCTAssertFalse(String(describing: result).contains("hunter2"))
    }

    func testDeallocateTargets() {
        let cases: [(String, DeallocateTarget)] = [
            ("DEALLOCATE p1", .name("p1")),
            ("DEALLOCATE PREPARE p1", .name("p1")),
            ("deallocate MyStmt", .name("mystmt")),
            ("DEALLOCATE \"MyStmt\"", .name("MyStmt")),
            ("DEALLOCATE ALL", .all),
            ("DEALLOCATE PREPARE ALL", .all),
            ("DEALLOCATE", .none),
            ("DEALLOCATE 'x'", .none),
            ("SELECT 1", .none),
            ("DEALLOCATE a; DEALLOCATE b", .name("b")),
            ("DEALLOCATE " + String(repeating: "p", count: 70), .name(String(repeating: "p", count: 63))),
            ("DEALLOCATE \"" + String(repeating: "é", count: 40) + "\"", .name(String(repeating: "é", count: 31))),
        ]
        for (sql, target) in cases {
            XCTAssertEqual(classifier.classify(sql).deallocate, target, sql)
        }
    }

    func testHints() {
        let cases: [(String, RouteHint?)] = [
            ("/* pgrelay:primary */ SELECT 1", .primary),
            ("/* pgrelay:replica */ SELECT 1", .replica),
            ("/*pgrelay:replica*/SELECT 1", .replica),
            ("/*  PGRelay : Primary  */ SELECT 1", .primary),
            ("  \n/* pgrelay:replica */\nSELECT 1", .replica),
            ("-- pgrelay:primary\nSELECT 1", .primary),
            ("/* app=x */ /* pgrelay:replica */ SELECT 1", .replica),
            ("/* pgrelay:replica */ /* pgrelay:primary */ SELECT 1", .replica),
            ("/* pgrelay:replica */ DELETE FROM t", .replica),
            ("SELECT 1 /* pgrelay:primary */", nil),
            ("SELECT 1; /* pgrelay:primary */ SELECT 2", nil),
            ("/* pgrelay:master */ SELECT 1", nil),
            ("/* pgrelay:primary please */ SELECT 1", nil),
            ("/* not pgrelay:primary */ SELECT 1", nil),
            ("/* pgrelay primary */ SELECT 1", nil),
            ("/* pgrelay:primary", nil),
            ("SELECT '/* pgrelay:primary */'", nil),
            ("/* pgrelay:primary */", .primary),
            ("", nil),
        ]
        for (sql, hint) in cases {
            XCTAssertEqual(classifier.classify(sql).hint, hint, sql)
        }
    }
}
