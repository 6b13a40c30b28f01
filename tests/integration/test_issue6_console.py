"""Issue 6: PgBouncer-compatible admin console, reload, pause/resume, graceful shutdown."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import psycopg
import pytest

import harness
from checks import wait_until
from pgbouncer_columns import LEGACY_COLUMNS, PGBOUNCER_1_25_COLUMNS

pytestmark = pytest.mark.issue6

# Console tests use session mode so that they do not depend on transaction pooling (issue 3);
# PAUSE and shutdown use transaction mode, where a finished transaction releases its server.

IS_PGRELAY = harness.PROXY_KIND == "pgrelay"


def console_columns_or_none(p, command):
    """Column names of a SHOW command, or None when this proxy does not know the command."""
    try:
        return p.console(command)[0]
    except psycopg.Error:
        return None


@pytest.mark.parametrize("name", sorted(PGBOUNCER_1_25_COLUMNS))
def test_show_commands_return_pgbouncer_columns(proxy, name):
    p = proxy(pool_mode="session")
    p.query("SELECT 1")  # so that pools, servers and stats have rows
    command = f"SHOW {name}"
    expected = PGBOUNCER_1_25_COLUMNS[name]
    if IS_PGRELAY:
        cols = p.console(command)[0]
        assert cols[:len(expected)] == expected, f"{command}: {cols}"
        for legacy in LEGACY_COLUMNS.get(name, []):
            assert legacy in cols[len(expected):], f"{command} lacks legacy column {legacy}"
        # compare with the PgBouncer on this machine, started from the same ini
        ref = proxy(kind="pgbouncer", pool_mode="session")
        ref.query("SELECT 1")
        ref_cols = console_columns_or_none(ref, command)
        if ref_cols is not None:
            missing = [c for c in ref_cols if c not in cols]
            assert not missing, f"{command}: columns PgBouncer has and pgrelay lacks: {missing}"
    else:
        cols = console_columns_or_none(p, command)
        if cols is None:
            pytest.skip(f"this PgBouncer has no {command}")
        # the 1.25 table must cover what older PgBouncers send, modulo renamed columns
        unknown = [c for c in cols if c not in expected + LEGACY_COLUMNS.get(name, [])]
        assert not unknown, f"{command}: {unknown}"


@pytest.mark.parametrize("command", ["SHOW QUERIES", "SHOW HEALTH", "SHOW ROUTES"])
@pytest.mark.pgrelay_only("pgrelay's own console commands")
def test_pgrelay_show_commands(proxy, command):
    p = proxy(pool_mode="session")
    p.query("SELECT 1")
    cols, _ = p.console(command)
    assert cols


def test_console_as_pgrelay_database_alias(proxy):
    p = proxy()
    dbname = "pgrelay" if IS_PGRELAY else "pgbouncer"
    cols, rows = p.console("SHOW VERSION", dbname=dbname)
    assert cols == ["version"] and len(rows) == 1 and rows[0][0]


@pytest.mark.pgrelay_only("`pgrelay --version` is pgrelay's command line")
def test_version_flag_matches_show_version(proxy):
    p = proxy()
    out = subprocess.run([harness.PGRELAY_BIN, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    assert out.stdout.splitlines()[0] == p.console("SHOW VERSION")[1][0][0]


def test_unknown_command_is_an_error_and_session_goes_on(proxy):
    from psycopg import pq
    p = proxy()
    with psycopg.connect(p.dsn("admin", "pgbouncer"), autocommit=True) as conn:
        res = conn.pgconn.exec_(b"SHOW NO_SUCH_THING")
        assert res.status == pq.ExecStatus.FATAL_ERROR
        res = conn.pgconn.exec_(b"show version;")
        assert res.status == pq.ExecStatus.TUPLES_OK and res.ntuples == 1


def test_stats_user_can_show_but_not_reload(proxy):
    p = proxy()
    assert p.console("SHOW POOLS", user="stats")[0][:2] == ["database", "user"]
    with pytest.raises(psycopg.Error):
        p.console("RELOAD", user="stats")
    with pytest.raises(psycopg.Error):
        p.console("PAUSE", user="stats")


def pool_row(p, database="appdb", user="app"):
    for row in p.console_dicts("SHOW POOLS"):
        if row["database"] == database and row["user"] == user:
            return row
    return None


def database_pool_size(p, name="appdb"):
    for row in p.console_dicts("SHOW DATABASES"):
        if row["name"] == name:
            return int(row["pool_size"])
    raise AssertionError(f"no database {name} in SHOW DATABASES")


def busy_clients(p, n, seconds):
    """Start n clients that each hold a server for `seconds`; returns the threads."""
    errors = []

    def one():
        try:
            p.query(f"SELECT pg_sleep({seconds})", timeout=seconds + 30)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, errors


def peak_active_servers(p, threads):
    peak = 0
    while any(t.is_alive() for t in threads):
        row = pool_row(p)
        if row:
            peak = max(peak, int(row["sv_active"]))
        time.sleep(0.1)
    return peak


def test_reload_changes_pool_size(proxy):
    p = proxy(pool_mode="session", default_pool_size=2)
    assert database_pool_size(p) == 2
    threads, errors = busy_clients(p, 5, 1.5)
    assert peak_active_servers(p, threads) == 2
    assert not errors

    p.write_config(default_pool_size=5)
    p.console("RELOAD")
    assert database_pool_size(p) == 5
    threads, errors = busy_clients(p, 5, 1.5)
    assert peak_active_servers(p, threads) == 5
    assert not errors


@pytest.mark.pgrelay_only("PgBouncer 1.18 falls back to defaults for keys after a failed reload")
def test_invalid_reload_keeps_the_running_config(proxy):
    p = proxy(pool_mode="session", default_pool_size=5)
    p.write_config(default_pool_size="not-a-number")
    try:
        p.console("RELOAD")
    except psycopg.Error:
        pass  # refusing the reload with an error is fine; changing the config is not
    assert database_pool_size(p) == 5
    assert p.query("SELECT 'still serving'") == "still serving"


def test_sighup_reload_adds_a_database(proxy, cluster):
    p = proxy(pool_mode="session")
    p.databases = dict(p.databases, newdb=f"host=127.0.0.1 port={cluster.primary_port} dbname=appdb")
    p.write_config()
    with p.connect() as kept:  # a connected client survives the reload
        p.reload()
        assert wait_until(lambda: p.psql("SELECT 1", dbname="newdb", check=False).returncode == 0, 5)
        assert kept.execute("SELECT 2").fetchone() == (2,)


def test_pause_waits_for_running_transaction_and_resume_releases_queries(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=2)
    with p.connect(autocommit=False, prepare_threshold=None) as busy:
        busy.execute("SELECT 1")  # a transaction is open and holds a server
        paused = threading.Event()

        def pause():
            p.console("PAUSE")
            paused.set()
        pauser = threading.Thread(target=pause)
        pauser.start()
        time.sleep(1.0)
        assert not paused.is_set(), "PAUSE returned while a transaction was running"
        busy.commit()
        assert paused.wait(5), "PAUSE did not return after the transaction ended"
        pauser.join(5)

    done = threading.Event()
    waiter = threading.Thread(target=lambda: (p.query("SELECT 1", timeout=30), done.set()))
    waiter.start()
    time.sleep(1.0)
    assert not done.is_set(), "a query ran while paused"
    p.console("RESUME")
    assert done.wait(5), "the held query did not run after RESUME"
    waiter.join(5)


def test_graceful_shutdown_lets_running_transaction_commit(proxy, cluster):
    p = proxy(pool_mode="transaction", default_pool_size=2)
    p.query("DROP TABLE IF EXISTS shutdown_t; CREATE TABLE shutdown_t (x int)")
    outcome = {}

    def client():
        try:
            with p.connect(autocommit=False, prepare_threshold=None) as conn:
                conn.execute("INSERT INTO shutdown_t VALUES (1)")
                conn.execute("SELECT pg_sleep(1)")
                conn.commit()
                outcome["committed"] = True
        except Exception as e:  # noqa: BLE001 - reported below
            outcome["error"] = e

    t = threading.Thread(target=client)
    t.start()
    assert wait_until(lambda: cluster.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(1)' AND state = 'active'") == "1", 5)
    # PgBouncer 1.18's SIGTERM is an immediate shutdown; its graceful one is SIGINT
    p.signal(signal.SIGTERM if IS_PGRELAY else signal.SIGINT)
    t.join(15)
    assert outcome.get("committed"), outcome
    assert p.wait_exit(15) == 0
    assert cluster.sql("SELECT count(*) FROM shutdown_t") == "1"
    cluster.sql("DROP TABLE shutdown_t")


EXPORTER = shutil.which("prometheus-pgbouncer-exporter")


@pytest.mark.skipif(EXPORTER is None, reason="prometheus-pgbouncer-exporter is not installed")
@pytest.mark.pgrelay_only("Debian's exporter 1.7 reads SHOW STATS total_requests, gone since PgBouncer 1.8")
def test_prometheus_pgbouncer_exporter_scrapes(proxy):
    p = proxy(pool_mode="session")
    p.query("SELECT 1")
    port = harness.freeport.free_port()
    env = dict(os.environ, PGPASSWORD="stats")
    log_path = os.path.join(p.dir, "exporter.log")
    with open(log_path, "wb") as log:
        exporter = subprocess.Popen(
            [EXPORTER, "--host", "127.0.0.1", "--port", str(port), "--pgbouncer-host", "127.0.0.1",
             "--pgbouncer-port", str(p.port), "--pgbouncer-user", "stats"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        if not harness.wait_for_port(port, 20, exporter):
            with open(log_path, errors="replace") as f:
                pytest.fail(f"exporter did not start:\n{f.read()[-3000:]}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as resp:
            assert resp.status == 200
            text = resp.read().decode()
    finally:
        exporter.terminate()
        exporter.wait(10)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    metrics = [line for line in lines if line.startswith("pgbouncer_") and 'database="appdb"' in line]

    def has(*names):
        return any(line.startswith(names) for line in metrics)

    # Debian's exporter 1.7 names them pgbouncer_active_clients (SHOW POOLS),
    # pgbouncer_requests_total (SHOW STATS, the pre-1.8 total_requests column), pgbouncer_pool_size
    # (SHOW DATABASES); newer exporters pgbouncer_pools_*, pgbouncer_stats_*, pgbouncer_databases_*.
    assert has("pgbouncer_active_clients", "pgbouncer_pools_"), text[-3000:]
    assert has("pgbouncer_requests_total", "pgbouncer_stats_"), text[-3000:]
    assert has("pgbouncer_pool_size", "pgbouncer_databases_"), text[-3000:]
    assert "pgbouncer_up 0" not in text, text[-3000:]


def test_console_through_psql(proxy):
    p = proxy(pool_mode="session")
    p.query("SELECT 1")
    res = harness.psql(p.port, None, dbname="pgbouncer", user="admin", extra_args=("-F", ","),
                       stdin="SHOW POOLS;\nshow databases\n;\nSHOW VERSION;\n")
    lines = res.stdout.splitlines()
    assert any(line.startswith("appdb,app,") for line in lines), lines
    assert any(line.startswith("appdb,127.0.0.1,") for line in lines), lines


def test_console_through_extended_protocol(proxy):
    p = proxy(pool_mode="session")
    p.query("SELECT 1")
    with psycopg.connect(p.dsn("admin", "pgbouncer"), autocommit=True) as conn:
        cur = conn.execute("SHOW POOLS")  # psycopg sends Parse/Bind/Describe/Execute/Sync
        names = [d.name for d in cur.description]
        assert names == p.console("SHOW POOLS")[0]  # as over the simple protocol
        assert ("appdb", "app") in [tuple(r[:2]) for r in cur.fetchall()]


@pytest.mark.pgrelay_only("the HTTP admin API is pgrelay's")
def test_admin_views_polled_under_load_disturb_nobody(proxy, workdir):
    """Dashboards poll SHOW CLIENTS/SERVERS/POOLS/SOCKETS, /clients and /metrics while clients
    log in, change application_name and run transactions on every event loop: every
    transaction succeeds, every poll answers, and the listed application names are whole."""
    p = proxy(pool_mode="transaction", default_pool_size=4)
    script = os.path.join(workdir, "admin-poll-bench.sql")
    with open(script, "w") as f:
        f.write("SET application_name = 'bench-:client_id';\nSELECT 1;\n")
    done = threading.Event()
    polls, errors, names = [0], [], set()

    def poll():
        while not done.is_set():
            try:
                for row in p.console_dicts("SHOW CLIENTS"):
                    names.add(row["application_name"])
                for command in ("SHOW SERVERS", "SHOW POOLS", "SHOW SOCKETS", "SHOW LISTS"):
                    p.console(command)
                for path in ("/clients", "/servers", "/metrics"):
                    status, _ = p.http(path)
                    assert status == 200, f"{path}: {status}"
                polls[0] += 1
            except Exception as e:  # noqa: BLE001 — any failure of a poll fails the test below
                errors.append(repr(e))
                return

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        # -C: a new connection per transaction, so that clients log in all the time too.
        churn = p.pgbench(["-n", "-f", script, "-c", "6", "-j", "2", "-T", "3", "-C"], timeout=60)
        steady = p.pgbench(["-n", "-f", script, "-c", "8", "-j", "2", "-T", "3"], timeout=60)
    finally:
        done.set()
        poller.join(timeout=30)
    for run in (churn, steady):
        assert run.returncode == 0, run.stderr + run.stdout
        processed, failed = harness.pgbench_counts(run.stdout)
        assert processed and processed > 0 and not failed, run.stdout
    assert not errors, errors
    assert polls[0] >= 5, f"only {polls[0]} rounds of polling"
    unexpected = {n for n in names if n not in ("", "pgbench", "psql") and not re.fullmatch(r"bench-\d+", n or "")}
    assert not unexpected, unexpected
    assert p.query("SELECT 1") == "1"


def test_a_closed_connection_is_gone_from_show_clients_at_once(proxy):
    """A client that closed its connection, and the console connection that asked before, are
    not listed by the next SHOW CLIENTS, asked right after on a new connection (PgBouncer's
    test_kill_client_invalid does this): with two reactors the close may sit unread on one
    reactor while the other answers, unless the console waits for every reactor's next turn."""
    p = proxy(**({"workers": "2"} if IS_PGRELAY else {}))
    for round_ in range(40):
        with p.connect() as conn:
            conn.execute("SELECT 1")
        rows = p.console_dicts("SHOW CLIENTS")
        assert [r for r in rows if r["user"] == "app"] == [], f"round {round_}: {rows}"
        assert len([r for r in rows if r["user"] == "admin"]) == 1, f"round {round_}: {rows}"
