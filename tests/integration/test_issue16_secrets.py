"""Issue 16: secrets and SQL literals never leave pgrelay unmasked.

Every error path a client can reach is driven with unique marker strings as passwords and as SQL
literals, with pgrelay logging at its most verbose (log_level = trace, verbose = 9, every query
logged and every query slow). Then every output is read — the log, /metrics, /metrics/queries,
the admin listings, every SHOW command of the console — and none may hold a marker.
"""

import os
import secrets
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

import harness
from conftest import default_databases
from test_issue8_tls import certs, client_tls  # noqa: F401 (certs is a fixture)

pytestmark = [pytest.mark.issue16, pytest.mark.pgrelay_only("what pgrelay logs and shows")]

# One prefix for the run; each path adds its own suffix, so a leak names the path it came from.
MARK = "zqx" + secrets.token_hex(5)

SHOW_SUBJECTS = ["POOLS", "STATS", "STATS_TOTALS", "STATS_AVERAGES", "TOTALS", "SERVERS", "CLIENTS",
                 "DATABASES", "USERS", "CONFIG", "LISTS", "MEM", "STATE", "FDS", "VERSION", "SOCKETS",
                 "ACTIVE_SOCKETS", "DNS_HOSTS", "DNS_ZONES", "PEERS", "PEER_POOLS", "QUERIES", "HEALTH",
                 "ROUTES"]
HTTP_PATHS = ["/health", "/metrics", "/metrics/queries", "/pools", "/servers", "/clients", "/databases",
              "/config"]

VERBOSE = {"log_level": "trace", "verbose": 9, "log_queries": "all", "slow_query_threshold_ms": 0}


def databases_with_secret(cluster):
    """The usual entries plus one whose server password is a marker (and wrong)."""
    dbs = default_databases(cluster, replicas=False)
    p = cluster.primary_port
    dbs["pwdb"] = f"host=127.0.0.1 port={p} dbname=appdb user=app password={MARK}dbpw"
    return dbs


def fails(res):
    assert res.returncode != 0, res.stdout
    return res


def outputs(p):
    """Everything pgrelay shows or writes, by where it came from."""
    seen = {"log": p.log_text()}
    for path in HTTP_PATHS:
        status, body = p.http(path)
        seen[f"HTTP {path} ({status})"] = str(body)
    for subject in SHOW_SUBJECTS:
        try:
            seen[f"SHOW {subject}"] = repr(p.console(f"SHOW {subject}"))
        except Exception as error:  # a subject this build lacks still must not echo a marker
            seen[f"SHOW {subject} (error)"] = str(error)
    return seen


def assert_no_marker(p):
    leaks = {where: text for where, text in outputs(p).items() if MARK in text}
    report = []
    for where, text in leaks.items():
        at = text.index(MARK)
        report.append(f"{where}: ...{text[max(0, at - 200):at + 60]!r}...")
    assert not leaks, "markers leaked:\n" + "\n".join(report)


def raw_tls_garbage(port):
    """SSLRequest, then bytes that are neither TLS nor a startup packet, holding a marker."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack("!ii", 8, 80877103))
        answer = s.recv(1)
        payload = f"{MARK}tls".encode() * 4
        s.sendall(b"\x16\x03\x01" + struct.pack("!H", len(payload)) + payload)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        return answer


def raw_bad_startup(port):
    """A startup packet whose layout is broken, with a marker inside."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        body = struct.pack("!i", 196608) + b"user\0app\0password\0" + f"{MARK}startup".encode()
        s.sendall(struct.pack("!i", len(body) + 4) + body)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass


def drive_literal_paths(p, cluster):
    import psycopg

    # syntax and run-time errors with literals, simple protocol
    fails(p.psql(f"SELECT '{MARK}syntax' FROM WHERE", check=False))
    fails(p.psql(f"SELECT 1/0 WHERE '{MARK}div' <> ''", check=False))
    fails(p.psql(f"SELECT '{MARK}cast'::int", check=False))
    p.query(f"SELECT '{MARK}ok', $${MARK}dollar$$, E'{MARK}escape', -123456789, 1.5e3")
    p.query(f"SET application_name = 'secrets-test'; SET search_path = '{MARK}path', public; SELECT 1")
    # extended protocol: literals in Parse, parameters in Bind, errors on both
    with p.connect() as conn:
        conn.execute("SELECT %s::text, %s::int", (f"{MARK}param", 7))
        with pytest.raises(psycopg.Error):
            conn.execute(f"SELECT '{MARK}parse' FROM nowhere_{MARK[:3]}")
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT %s::int", (f"{MARK}badparam",))
        conn.execute(f"CREATE TEMP TABLE secrets_t (id int, note text)")
        # COPY: rows that fail, and a CopyFail whose reason holds a marker
        with pytest.raises(psycopg.Error):
            with conn.cursor().copy("COPY secrets_t FROM STDIN") as copy:
                copy.write(f"{MARK}copyrow\tx\n")
        with pytest.raises(Exception):
            with conn.cursor().copy("COPY secrets_t FROM STDIN") as copy:
                copy.write("1\tfine\n")
                raise RuntimeError(f"{MARK}copyfail")
        with conn.cursor().copy("COPY secrets_t FROM STDIN") as copy:
            copy.write(f"2\t{MARK}copydata\n")
        with conn.cursor().copy(f"COPY (SELECT note FROM secrets_t WHERE note LIKE '{MARK}%') TO STDOUT") as copy:
            rows = [bytes(row) for row in copy]
        assert any(MARK.encode() in row for row in rows), "the client gets its own data back"
    # a query canceled by the client (psql sends CancelRequest on SIGINT)
    cancel = subprocess.run(["timeout", "-s", "INT", "1", harness.pg_tool("psql"), "-X",
                             p.dsn(), "-c", f"SELECT pg_sleep(5), '{MARK}cancel'"],
                            capture_output=True, text=True, timeout=30)
    assert cancel.returncode != 0
    # a server killed under a running query
    killed = {}

    def long_query():
        killed["res"] = p.psql(f"SELECT pg_sleep(10), '{MARK}killed'", check=False, timeout=30)

    worker = threading.Thread(target=long_query)
    worker.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        n = cluster.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE query LIKE '%pg_sleep(10)%' AND pid <> pg_backend_pid()")
        if n.strip() not in ("", "0"):
            break
        time.sleep(0.1)
    worker.join(30)
    assert killed["res"].returncode != 0, "the killed server's client got an error"


def drive_password_paths(p):
    # a wrong password, a user missing everywhere, a server entry with a wrong password
    fails(p.psql("SELECT 1", password=f"{MARK}wrongpw", check=False))
    fails(p.psql("SELECT 1", user="nosuchuser", password=f"{MARK}nouser", check=False))
    fails(p.psql("SELECT 1", dbname="pwdb", check=False))
    # bad TLS: the client insists on TLS the proxy does not offer; garbage after an SSLRequest
    fails(p.psql("SELECT 1", sslmode="require", password=f"{MARK}tlspw", check=False))
    assert raw_tls_garbage(p.port) in (b"N", b"")
    raw_bad_startup(p.port)


def test_md5_session_mode_error_paths_leak_nothing(proxy, cluster):
    p = proxy(pool_mode="session", auth_type="md5", databases=databases_with_secret(cluster), **VERBOSE)
    drive_password_paths(p)
    drive_literal_paths(p, cluster)
    assert_no_marker(p)


def test_transaction_mode_json_logs_and_auth_query_failure_leak_nothing(proxy, cluster):
    p = proxy(pool_mode="transaction", auth_type="scram-sha-256", log_format="json", auth_user="admin",
              auth_query=f"SELECT usename, passwd FROM no_such_view WHERE usename = $1",
              databases=databases_with_secret(cluster), **VERBOSE)
    # auth_query fails (no such relation) for a user missing from the auth_file
    fails(p.psql("SELECT 1", user="aq_missing", password=f"{MARK}aqpw", check=False))
    drive_password_paths(p)
    drive_literal_paths(p, cluster)
    # named prepared statements in transaction mode carry their text to other servers
    with p.connect() as conn:
        for i in range(3):
            conn.execute(f"SELECT '{MARK}prepared', %s::int", (i,), prepare=True)
    assert_no_marker(p)


def test_plain_password_auth_and_reload_leak_nothing(proxy, cluster):
    p = proxy(pool_mode="session", auth_type="plain", databases=databases_with_secret(cluster), **VERBOSE)
    fails(p.psql("SELECT 1", password=f"{MARK}plainpw", check=False))
    # a user whose auth_file password is a marker, added by a reload
    p.users["marked"] = f"{MARK}filepw"
    p.write_config()
    p.reload()
    time.sleep(1)
    fails(p.psql("SELECT 1", user="marked", password=f"{MARK}filepw", check=False))  # unknown to PostgreSQL
    fails(p.psql("SELECT 1", user="marked", password=f"{MARK}wrongfilepw", check=False))
    p.signal(signal.SIGHUP)
    time.sleep(1)
    assert_no_marker(p)


def test_failed_tls_handshakes_leak_nothing(proxy, cluster, certs):
    p = proxy(pool_mode="session", auth_type="md5", databases=databases_with_secret(cluster),
              **client_tls(certs, "require"), **VERBOSE)
    # TLS accepted ('S'), then bytes that are no TLS record
    assert raw_tls_garbage(p.port) == b"S"
    # the client refuses the proxy's certificate (signed by a CA it does not trust)
    fails(p.psql("SELECT 1", host="localhost", sslmode="verify-full", sslrootcert=certs.otherca_crt,
                 password=f"{MARK}untrusted", check=False))
    # TLS works, the password does not
    fails(p.psql("SELECT 1", sslmode="require", password=f"{MARK}tlswrong", check=False))
    assert p.query(f"SELECT length('{MARK}tlsok')", sslmode="require") == str(len(MARK) + 5)
    assert_no_marker(p)
