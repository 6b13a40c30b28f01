#!/usr/bin/env python3
"""Differential oracle for pgrelay's SQL classifier and fingerprints, using PostgreSQL's own
parser (libpg_query 15, Debian package libpg-query-dev).

Generates a corpus of statements (hand-written tricky ones plus combinations of templates),
runs each through pg_query_parse and pg_query_normalize via oracle.c, and writes
oracle.jsonl: one {"sql", "verdict", "pg_normalized"} object per statement that parses.
SQLCorpusTests.swift then checks, without linking libpg_query:
  - where the parse tree writes (verdict "write"), pgrelay's classifier never says read;
  - pgrelay's fingerprint masks every constant pg_query_normalize masks.

Usage: python3 Tests/SQLCorpus/oracle.py   (needs cc and libpg-query-dev)
"""
import itertools
import json
import re
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# Functions whose call is a write in the oracle's eyes: the brief's list (INTERFACE.md).
WRITE_FUNCTIONS = {
    "nextval", "setval", "currval", "lastval", "set_config", "txid_current",
    "pg_current_xact_id", "pg_notify", "dblink_exec",
}
WRITE_PREFIXES = ("pg_advisory_", "pg_try_advisory_")


def walk(node):
    """Yields every dict in a JSON tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def query_writes(tree):
    """True when a query tree modifies data, locks rows, creates a table or calls a write function."""
    for node in walk(tree):
        for key in ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"):
            if key in node:
                return True
        if node.get("lockingClause") or node.get("intoClause"):
            return True
        call = node.get("FuncCall")
        if call:
            name = call["funcname"][-1]["String"]["sval"].lower()
            if name in WRITE_FUNCTIONS or name.startswith(WRITE_PREFIXES):
                return True
    return False


def option_true(defelem):
    arg = defelem.get("arg")
    if arg is None:
        return True
    # pg's JSON leaves zero and false values out: {"Integer": {}} is 0, {"Boolean": {}} is false
    if arg in ({"Integer": {}}, {"Boolean": {}}):
        return False
    text = json.dumps(arg).lower()
    return not any(word in text for word in ('"false"', '"off"', '"no"', '"f"', '"n"', '"0"'))


def statement_verdict(stmt):
    kind, body = next(iter(stmt.items()))
    if kind == "SelectStmt":
        return "write" if query_writes(body) else "read"
    if kind == "VariableShowStmt":
        return "read"
    if kind == "ExplainStmt":
        analyze = any(
            option_true(o["DefElem"]) for o in body.get("options", [])
            if o.get("DefElem", {}).get("defname") == "analyze"
        )
        inner_kind = next(iter(body["query"]))
        if not analyze:
            return "read" if inner_kind in ("SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt") else "write"
        return statement_verdict(body["query"])
    if kind == "CopyStmt":
        if body.get("is_from") or body.get("filename") or body.get("is_program"):
            return "write"
        return "write" if query_writes(body.get("query", {})) else "read"
    if kind == "TransactionStmt":
        tx = body["kind"]
        if tx in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            read_only = any(
                o["DefElem"].get("defname") == "transaction_read_only" and '"ival": 1' in json.dumps(o)
                for o in body.get("options", [])
            )
            return "read" if read_only else "write"
        if tx in ("TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"):
            return "write"
        return "neutral"
    if kind == "VariableSetStmt" and (body.get("is_local") or body.get("name", "").startswith("TRANSACTION")):
        return "neutral"
    return "write"


def text_verdict(tree):
    verdicts = [statement_verdict(s["stmt"]) for s in tree.get("stmts", []) if "stmt" in s]
    if "write" in verdicts:
        return "write"
    if "read" in verdicts:
        return "read"
    return "neutral"


HAND_WRITTEN = [
    "SELECT 'DELETE'", "SELECT /* update */ 1", "SELECT $$ insert $$", "SELECT $t$ ; delete from t; $t$",
    "SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)", "SELECT * FROM t FOR SHARE OF t NOWAIT",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "EXPLAIN ANALYZE DELETE FROM t",
    "EXPLAIN DELETE FROM t", "EXPLAIN (ANALYZE) UPDATE t SET a = 1", "EXPLAIN (ANALYZE false) DELETE FROM t",
    "EXPLAIN ANALYZE VERBOSE UPDATE t SET a = 1", "SELECT nextval('s')", "SELECT 1; DELETE FROM t",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ select 1 $$", "DO $$ BEGIN PERFORM 1; END $$",
    "CALL p()", "LOCK TABLE t", "VACUUM t", "SELECT * INTO t2 FROM t", "INSERT INTO t SELECT * FROM u",
    "COPY t TO STDOUT", "COPY (SELECT 1) TO STDOUT", "COPY t FROM STDIN", "COPY (DELETE FROM t RETURNING *) TO STDOUT",
    "SHOW work_mem", "TABLE t", "VALUES (1)", "BEGIN READ ONLY", "BEGIN", "COMMIT", "ROLLBACK TO SAVEPOINT a",
    "SET LOCAL a.b = 1", "SET a.b = 1", "SET TRANSACTION READ ONLY", "SELECT E'\\' ; DELETE FROM t'",
    "SELECT U&'\\0041'", "SELECT B'101', X'ff'", "SELECT 'a'\n'b'", "SELECT -1, - 2, 3 - -4",
    "SELECT interval '1 day', '1'::int, DATE '2020-01-01'", "SELECT $2 + 1, $1", "SELECT 1e10, .5, 0x1F",
    "SELECT \"update\" FROM t", "SELECT pg_advisory_lock(1)", "SELECT pg_catalog.nextval('s')",
    "WITH a AS (SELECT 1), b AS (WITH c AS (UPDATE t SET a = 1 RETURNING 1) SELECT * FROM c) SELECT * FROM b",
    "SELECT * FROM t WHERE a = ANY(ARRAY[1, 2, 3])", "SELECT CASE WHEN a THEN 'x' ELSE 'y' END FROM t",
    "SELECT f(a => 1, b => 'x')", "SELECT x->>'k', x #> '{a,b}' FROM t", "SELECT a[1:2] FROM t",
    "UPDATE t SET a = a + 1 WHERE b = 'x' RETURNING *", "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE",
    "SELECT 1 FROM t WHERE (a, b) IN ((1, 2), (3, 4))", "SELECT 1 WHERE 'a' LIKE 'b%' ESCAPE '!'",
]

TABLES = ["t", "public.orders", "\"Mixed Case\""]
PREDICATES = [
    "id = 42", "name = 'x'", "a = -1", "b IN (1, 2, 3)", "c NOT IN ('a', 'b')", "d BETWEEN 1 AND 10",
    "e = E'x\\'y'", "f = $$dollar$$", "g = $1", "h > now() - interval '7 days'", "i IS NULL",
    "j = true", "k LIKE 'a%'", "l = 1.5e3", "m @> '{1}'::int[]", "n = ANY($2)", "o = 'it''s'",
]
SUFFIXES = ["", " FOR UPDATE", " FOR NO KEY UPDATE", " FOR SHARE", " FOR KEY SHARE SKIP LOCKED",
            " ORDER BY 1 LIMIT 10", " LIMIT 5 OFFSET 10"]
WRAPPERS = [
    "{q}", "EXPLAIN {q}", "EXPLAIN ANALYZE {q}", "EXPLAIN (ANALYZE, BUFFERS) {q}", "EXPLAIN (COSTS off) {q}",
    "WITH x AS ({q}) SELECT * FROM x", "SELECT * FROM ({q}) s", "COPY ({q}) TO STDOUT", "{q}; SELECT 1",
    "/* pgrelay:replica */ {q}", "SELECT 1 WHERE EXISTS ({q})",
]
DML = [
    "INSERT INTO {t} (a) VALUES (1) RETURNING *", "UPDATE {t} SET a = 'x' WHERE {p} RETURNING *",
    "DELETE FROM {t} WHERE {p} RETURNING *", "SELECT nextval('s'), a FROM {t} WHERE {p}",
    "SELECT setval('s', 5) FROM {t} WHERE {p}", "SELECT pg_advisory_xact_lock(1) FROM {t} WHERE {p}",
]


def swift_table_statements():
    """The statements of the classifier and fingerprint tables in the Swift tests, so the
    hand-written expectations are checked against the parse tree too."""
    statements = []
    for name in ("SQLClassifierTests.swift", "SQLFingerprintTests.swift"):
        path = os.path.join(HERE, "..", "PGRelayCoreTests", name)
        with open(path, encoding="utf-8") as source:
            text = source.read()
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped.startswith(('"', '("')):
                continue
            match = re.match(r'\(?"((?:[^"\\]|\\.)*)"', stripped)
            if match:
                statements.append(unescape_swift(match.group(1)))
    return statements


def unescape_swift(literal):
    def replace(match):
        escape = match.group(1)
        if escape.startswith("u{"):
            return chr(int(escape[2:-1], 16))
        return {"n": "\n", "t": "\t", "r": "\r", "0": "\0", '"': '"', "'": "'", "\\": "\\"}[escape]
    return re.sub(r'\\(u\{[0-9a-fA-F]+\}|.)', replace, literal)


def corpus():
    statements = list(HAND_WRITTEN) + [s for s in swift_table_statements() if "\0" not in s and s.strip()]
    for table, predicate, suffix in itertools.product(TABLES, PREDICATES, SUFFIXES):
        statements.append(f"SELECT a, b FROM {table} WHERE {predicate}{suffix}")
    for wrapper, table, predicate in itertools.product(WRAPPERS, TABLES[:2], PREDICATES[::3]):
        for suffix in ("", " FOR UPDATE"):
            statements.append(wrapper.format(q=f"SELECT * FROM {table} WHERE {predicate}{suffix}"))
        for dml in DML:
            statements.append(wrapper.format(q=dml.format(t=table, p=predicate)))
    seen = set()
    return [s for s in statements if not (s in seen or seen.add(s))]


def run_oracle(statements):
    with tempfile.TemporaryDirectory() as workdir:
        binary = os.path.join(workdir, "oracle")
        subprocess.run(["cc", "-O1", "-o", binary, os.path.join(HERE, "oracle.c"), "-lpg_query"], check=True)
        payload = b"".join(s.encode() + b"\0" for s in statements)
        output = subprocess.run([binary], input=payload, stdout=subprocess.PIPE, check=True).stdout
    fields = output.split(b"\0")
    return [(fields[i].decode(), fields[i + 1].decode()) for i in range(0, len(statements) * 3, 3)]


def main():
    statements = corpus()
    results = run_oracle(statements)
    kept = 0
    with open(os.path.join(HERE, "oracle.jsonl"), "w") as out:
        for sql, (normalized, tree) in zip(statements, results):
            if normalized.startswith("ERROR") or tree.startswith("ERROR"):
                print(f"skipped (pg rejects it): {sql!r}", file=sys.stderr)
                continue
            verdict = text_verdict(json.loads(tree))
            out.write(json.dumps({"sql": sql, "verdict": verdict, "pg_normalized": normalized}) + "\n")
            kept += 1
    print(f"{kept} statements written to oracle.jsonl")


if __name__ == "__main__":
    main()
