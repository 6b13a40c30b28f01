"""postgres-nio (Swift) as a second, independent driver through pgrelay.

The client is tests/nio-client, built by scripts/test (NIO_CLIENT_BIN). It runs a scenario and
prints one JSON object."""

import json
import os
import subprocess

import pytest

NIO_CLIENT = os.environ.get("NIO_CLIENT_BIN", "")

pytestmark = pytest.mark.skipif(not NIO_CLIENT or not os.access(NIO_CLIENT, os.X_OK),
                                reason="nio-client not built (scripts/test builds it and sets NIO_CLIENT_BIN)")


def run(scenario, port, user="app", password="app", database="appdb", timeout=60):
    res = subprocess.run([NIO_CLIENT, scenario, "--port", str(port), "--user", user, "--password", password,
                          "--database", database], capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"nio-client {scenario} failed: {res.stderr}{res.stdout}"
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.issue2
@pytest.mark.parametrize("pool_mode", ["session", "transaction"])
def test_postgres_nio_queries(proxy, pool_mode):
    p = proxy(pool_mode=pool_mode)
    out = run("queries", p.port)
    assert out["sum"] == 5050
    assert out["echo"] == "o'reilly"
    assert out["error_sqlstate"] == "42P01"
    assert out["after_error"] == 42
    assert out["in_transaction"] == 7


@pytest.mark.issue3
@pytest.mark.pgrelay_only("PgBouncer 1.18 has no prepared statements in transaction mode")
def test_postgres_nio_prepared_statements_transaction_mode(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=2)
    out = run("prepared", p.port)
    assert out["executions"] == 48


@pytest.mark.issue6
def test_postgres_nio_console(proxy):
    p = proxy(pool_mode="transaction")
    out = run("console", p.port, user="admin", password="admin", database="pgbouncer")
    assert out["SHOW VERSION"]["rows"] == 1
    assert out["SHOW CONFIG"]["columns"][:2] == ["key", "value"]
    assert out["SHOW CONFIG"]["rows"] > 50
    assert out["SHOW DATABASES"]["columns"][:3] == ["name", "host", "port"]
    assert out["SHOW DATABASES"]["rows"] >= 1
    # The console itself is a client: SHOW CLIENTS lists at least this connection.
    assert out["SHOW CLIENTS"]["rows"] >= 1
