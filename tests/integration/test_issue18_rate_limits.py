"""Issue 18: per-user and per-database query rate limits (query_rate_limit)."""

import os
import re
import threading
import time

import psycopg
import pytest

import harness
from checks import metric
from conftest import SCRAM_USER

pytestmark = [pytest.mark.issue18, pytest.mark.pgrelay_only("query rate limits")]

RATE = 50
SECONDS = 6


def select1_script(tmp_path):
    path = tmp_path / "select1.sql"
    path.write_text("SELECT 1;\n")
    return str(path)


def pgbench_tps(p, user, script, clients, seconds, protocol="simple"):
    res = p.pgbench(["-n", "-M", protocol, "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", script],
                    user=user, timeout=seconds + 60)
    assert res.returncode == 0, res.stderr
    processed, failed = harness.pgbench_counts(res.stdout)
    assert failed in (None, 0), res.stdout
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", res.stdout).group(1))
    return processed, tps


def test_a_user_over_its_limit_gets_its_rate_and_another_user_is_unaffected(proxy, tmp_path):
    script = select1_script(tmp_path)
    p = proxy(pool_mode="transaction", default_pool_size=8, query_rate_wait_ms=5000,
              user_entries={"app": f"query_rate_limit={RATE} query_rate_burst=5"})
    results = {}

    def limited():
        results["app"] = pgbench_tps(p, "app", script, clients=4, seconds=SECONDS)

    thread = threading.Thread(target=limited)
    thread.start()
    time.sleep(0.5)
    results[SCRAM_USER] = pgbench_tps(p, SCRAM_USER, script, clients=2, seconds=SECONDS - 2, protocol="extended")
    thread.join()
    _, app_tps = results["app"]
    _, other_tps = results[SCRAM_USER]
    print(f"limited user: {app_tps:.1f} queries/s (limit {RATE}); unlimited user: {other_tps:.1f} queries/s")
    # The burst adds at most 5 queries over the whole run.
    assert RATE * 0.9 <= app_tps <= RATE * 1.1, f"app got {app_tps:.1f} queries/s for a limit of {RATE}"
    assert other_tps > 5 * RATE, f"the unlimited user ran at {other_tps:.1f} queries/s"
    assert metric(p, "pgrelay_rate_limit_delayed_total", scope="user", name="app") > 0
    assert metric(p, "pgrelay_rate_limit_refused_total", scope="user", name="app") == 0
    assert metric(p, "pgrelay_rate_limit_queries_per_second", scope="user", name="app") == RATE
    assert metric(p, "pgrelay_rate_limit_delayed_total", scope="user", name=SCRAM_USER) is None, "no bucket for an unlimited user"
    rows = p.console_dicts("SHOW RATE_LIMITS")
    assert [(r["scope"], r["name"], float(r["queries_per_second"]), int(r["burst"])) for r in rows] == [("user", "app", RATE, 5)]
    assert int(rows[0]["delayed"]) > 0 and rows[0]["refused"] == "0"


def test_over_the_wait_a_query_fails_with_53400_and_the_session_goes_on(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=4, query_rate_limit=2, query_rate_burst=1, query_rate_wait_ms=100)
    with p.connect(prepare_threshold=None) as conn:
        conn.execute("SELECT 1")
        started = time.monotonic()
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("SELECT 2")          # its turn is 500 ms away: it waits 100 ms, then fails
        waited = time.monotonic() - started
        assert refused.value.sqlstate == "53400"
        assert 'query rate limit exceeded for user "app" (2 queries/s, waited 100 ms)' in str(refused.value)
        assert 0.09 <= waited < 0.4, waited
        with pytest.raises(psycopg.Error) as extended:
            conn.execute("SELECT %s::int", (3,))   # the extended protocol: the whole batch fails
        assert extended.value.sqlstate == "53400"
        time.sleep(0.6)
        assert conn.execute("SELECT %s::int", (4,)).fetchone() == (4,), "the session goes on"
    assert metric(p, "pgrelay_rate_limit_refused_total", scope="user", name="app") >= 2
    assert "pooler error: query rate limit exceeded" in p.log_text()


def test_a_transaction_is_never_cut_it_waits_instead(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=4, query_rate_limit=5, query_rate_burst=1, query_rate_wait_ms=0)
    with p.connect(prepare_threshold=None) as conn:
        started = time.monotonic()
        with conn.transaction():
            for i in range(3):
                assert conn.execute("SELECT %s::int", (i,)).fetchone() == (i,)
        elapsed = time.monotonic() - started
        # BEGIN, 3 queries and COMMIT: five turns 200 ms apart, none refused.
        assert elapsed >= 0.7, elapsed
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("SELECT 1")          # outside the transaction, wait 0: refused at once
        assert refused.value.sqlstate == "53400"


def test_a_database_limit_is_shared_by_its_users_and_reload_changes_limits(proxy, cluster, tmp_path):
    script = select1_script(tmp_path)
    databases = {"appdb": f"host=127.0.0.1 port={cluster.primary_port} dbname=appdb query_rate_limit=40 query_rate_burst=4"}
    p = proxy(pool_mode="transaction", default_pool_size=8, query_rate_wait_ms=5000, databases=databases)
    results = {}

    def run(user):
        results[user] = pgbench_tps(p, user, script, clients=2, seconds=5)

    threads = [threading.Thread(target=run, args=(user,)) for user in ("app", SCRAM_USER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    together = results["app"][1] + results[SCRAM_USER][1]
    assert 36 <= together <= 44 + 2, f"both users share 40 queries/s: {together:.1f}"
    assert metric(p, "pgrelay_rate_limit_delayed_total", scope="database", name="appdb") > 0

    # Reload: a higher limit applies to the clients already connected, and the user limit appears.
    p.databases = {"appdb": databases["appdb"].replace("query_rate_limit=40", "query_rate_limit=400")}
    p.write_config(query_rate_limit=20, query_rate_burst=2)
    p.reload()
    time.sleep(1)
    _, tps = pgbench_tps(p, "app", script, clients=2, seconds=4)
    assert 18 <= tps <= 23, f"the global limit now gives every user 20 queries/s: {tps:.1f}"
    rows = {(r["scope"], r["name"]): r for r in p.console_dicts("SHOW RATE_LIMITS")}
    assert float(rows[("database", "appdb")]["queries_per_second"]) == 400
    assert float(rows[("user", "app")]["queries_per_second"]) == 20
