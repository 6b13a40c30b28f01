"""Issue 19: an error that ends a connection reaches the client every time (not a bare reset)."""

import os
import subprocess
import tempfile
import time

import psycopg
import pytest

import harness

pytestmark = pytest.mark.issue19

REPEATS = 200


def test_statement_mode_refusal_reaches_psycopg_every_time(proxy):
    """psycopg opens a transaction (BEGIN) in statement mode: the proxy refuses it and closes. The
    client sends its next statement right away; closing while it was unread made the kernel answer
    with a reset that dropped the refusal ('server closed the connection unexpectedly')."""
    p = proxy(pool_mode="statement", default_pool_size=4)
    seen = 0
    for _ in range(REPEATS):
        with pytest.raises(psycopg.OperationalError) as failure:
            with psycopg.connect(p.dsn(), autocommit=False) as conn:
                conn.execute("SELECT 1")
                conn.execute("SELECT 2")
                conn.commit()
        if "transaction blocks not allowed in statement pooling mode" in str(failure.value):
            seen += 1
    assert seen == REPEATS, f"the refusal reached the client {seen} times of {REPEATS}"
    assert p.query("SELECT 1") == "1"


def test_wrong_password_reaches_the_client_every_time(proxy):
    p = proxy(auth_type="scram-sha-256")
    seen = 0
    for _ in range(REPEATS):
        with pytest.raises(psycopg.OperationalError) as failure:
            psycopg.connect(p.dsn(password="wrong"))
        if "authentication failed" in str(failure.value):
            seen += 1
    assert seen == REPEATS, f"the refusal reached the client {seen} times of {REPEATS}"


@pytest.mark.pgrelay_only("KILL_CLIENT and SHOW CLIENTS' id are PgBouncer 1.24+; Debian's 1.18 lacks them")
def test_kill_client_reaches_a_client_that_keeps_sending(proxy):
    """KILL_CLIENT of a client that sends its next query at the same moment: the client reads the
    FATAL, not a reset."""
    p = proxy(pool_mode="transaction")
    seen = 0
    for _ in range(REPEATS):
        conn = psycopg.connect(p.dsn(application_name="victim"), autocommit=True)
        try:
            conn.execute("SELECT 1")
            ids = [c["id"] for c in p.console_dicts("SHOW CLIENTS") if c["application_name"] == "victim"]
            assert len(ids) == 1
            p.console(f"KILL_CLIENT {ids[0]}")
            with pytest.raises(psycopg.OperationalError) as failure:
                for _ in range(50):
                    conn.execute("SELECT 1")
                    time.sleep(0.001)
            if "client killed by an admin" in str(failure.value):
                seen += 1
        finally:
            conn.close()
    assert seen == REPEATS, f"the error reached the client {seen} times of {REPEATS}"


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.mark.pgrelay_only("pgrelay's --check")
def test_check_accepts_the_example_config_as_shipped():
    """The example names an auth_file (userlist.txt) that a fresh clone does not have: as for
    PgBouncer, which starts without it, that is a warning, not an invalid config; --strict makes
    every warning fail the check."""
    example = os.path.join(REPO, "proxy.conf.example")
    res = subprocess.run([harness.PGRELAY_BIN, "--check", example], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "configuration is valid" in res.stdout
    assert "could not open auth_file" in res.stdout and "userlist.txt" in res.stdout
    strict = subprocess.run([harness.PGRELAY_BIN, "--check", "--strict", example], capture_output=True, text=True, timeout=30)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "could not open auth_file" in strict.stdout


@pytest.mark.pgrelay_only("pgrelay's --check")
def test_check_still_fails_on_a_bad_value(tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[databases]\nappdb = host=127.0.0.1\n[pgrelay]\nlisten_port = 6432\npool_mode = sometimes\n")
    res = subprocess.run([harness.PGRELAY_BIN, "--check", str(bad)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1
    assert "bad.ini:5: pool_mode: invalid value" in res.stdout + res.stderr


def test_missing_auth_file_starts_and_refuses_password_logins_until_it_exists(proxy):
    """PgBouncer starts without its auth_file and logs it; logins that need a secret fail until
    the file exists and the config is reloaded."""
    p = proxy(auth_file=os.path.join(tempfile.mkdtemp(), "missing.txt"))
    assert "could not open auth_file" in p.log_text()
    with pytest.raises(psycopg.OperationalError) as failure:
        psycopg.connect(p.dsn(password="app"))
    assert "password authentication failed" in str(failure.value) or "authentication failed" in str(failure.value)
    p.write_config(auth_file=p.userlist_path)
    p.reload()
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(p.dsn(password="app")) as conn:
                assert conn.execute("SELECT 1").fetchone()[0] == 1
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
