"""Issue 17: a `hosts=` database finds its primary by itself and follows a promotion.

Each test runs on a private cluster (a promotion cannot be undone) of a primary and streaming
replicas, lists every server in `hosts=` (the primary not first), and writes through pgrelay
while the primary goes away: unplanned (stop, then `pg_ctl promote`), planned (PAUSE, stop,
promote, RESUME) and a split brain (promote while the primary still runs).

The measured outages are printed (pytest -s shows them); docs/routing.md quotes a run.
"""

import os
import tempfile
import threading
import time

import psycopg
import pytest

import harness
from checks import PortReader, kill_node, metric, wait_until

# The bound on the write outage of an unplanned failover.
MAX_OUTAGE_S = 5.0


@pytest.fixture
def private_cluster(workdir):
    """A fresh primary + 2 replicas, torn down after the test (promotion changes it for good)."""
    c = harness.Cluster(tempfile.mkdtemp(prefix="failover-", dir=workdir), replicas=2)
    try:
        c.up()
        c.sql("CREATE TABLE failover_writes (id bigint PRIMARY KEY, writer int NOT NULL, at timestamptz DEFAULT now());"
              "CREATE TABLE failover_bench (id bigserial PRIMARY KEY, client int NOT NULL);"
              "GRANT ALL ON failover_writes, failover_bench, failover_bench_id_seq TO app")
        # Promotion must not race the replay of the tables.
        for port in c.replica_ports:
            assert wait_until(lambda: c.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'failover_bench'",
                                            port=port) == "1", 10)
        yield c
    finally:
        c.down()


def on_hosts(proxy, cluster, **settings):
    """pgrelay with appdb = hosts=replica1,primary,replica2: the primary is not the first listed."""
    ports = [cluster.replica_ports[0], cluster.primary_port, cluster.replica_ports[1]]
    entry = "hosts=" + ",".join(f"127.0.0.1:{port}" for port in ports) + " dbname=appdb"
    settings.setdefault("pool_mode", "transaction")
    settings.setdefault("replica_check_interval_s", 1)
    settings.setdefault("query_wait_timeout", 30)
    p = proxy(databases={"appdb": entry}, **settings)
    assert wait_until(lambda: primary_port(p) == cluster.primary_port, 10), "the primary was not found"
    return p


def primary_port(p):
    """The port of the server pgrelay sends writes to now (SHOW DATABASES), or None."""
    rows = [r for r in p.console_dicts("SHOW DATABASES") if r["name"] == "appdb"]
    return int(rows[0]["port"]) if rows and rows[0]["host"] else None


def promote(cluster, k):
    cluster.cmd("promote-replica", cluster.dir, str(k))


def stop_primary(cluster):
    cluster.cmd("stop-primary", cluster.dir)


class Writer(threading.Thread):
    """Inserts numbered rows through pgrelay, one autocommit INSERT at a time, reconnecting after
    an error. Records each acknowledged id with its time, and each failure."""

    def __init__(self, p, number):
        super().__init__(daemon=True)
        self.p, self.number = p, number
        self.acked, self.failures = [], []
        self.stop = threading.Event()
        self.start()

    def run(self):
        next_id = self.number * 10_000_000
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = self.p.connect(autocommit=True, prepare_threshold=None)
                next_id += 1
                conn.execute("INSERT INTO failover_writes (id, writer) VALUES (%s, %s)", (next_id, self.number))
                self.acked.append((next_id, time.monotonic()))
            except psycopg.Error as error:
                self.failures.append((time.monotonic(), getattr(error, "sqlstate", None), str(error).strip()))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
        if conn is not None:
            conn.close()

    def finish(self):
        self.stop.set()
        self.join(30)
        assert not self.is_alive()


def rows_found(cluster, port):
    return {int(x) for x in cluster.sql("SELECT id FROM failover_writes", port=port).split()}


def first_write_after(writers, instant):
    return min((at for w in writers for _, at in w.acked if at > instant), default=None)


def test_hosts_list_finds_the_primary_writes_there_and_reads_on_replicas(proxy, private_cluster):
    cluster = private_cluster
    p = on_hosts(proxy, cluster)
    with p.connect(autocommit=True) as conn:
        conn.execute("INSERT INTO failover_writes (id, writer) VALUES (1, 0)")
        with conn.transaction():
            assert conn.execute("SELECT inet_server_port()").fetchone()[0] == cluster.primary_port
    assert wait_until(lambda: rows_found(cluster, cluster.replica_ports[1]) == {1}, 10)
    with p.connect(autocommit=True) as conn:
        ports = {conn.execute("SELECT inet_server_port()").fetchone()[0] for _ in range(20)}
    assert ports <= set(cluster.replica_ports) and ports, ports

    status, health = p.http("/health")
    roles = {b["port"]: b["role"] for b in health["backends"]}
    assert roles == {cluster.primary_port: "primary", cluster.replica_ports[0]: "replica", cluster.replica_ports[1]: "replica"}
    assert all(b["up"] and b["role_changed_at"] for b in health["backends"]), health["backends"]
    status, backends = p.http("/backends")
    assert status == 200
    assert {(b["port"], b["role"]) for b in backends} == {(port, role) for port, role in roles.items()}
    servers = p.console_dicts("SHOW SERVERS")
    assert {(int(s["port"]), s["role"]) for s in servers} <= {(cluster.primary_port, "primary")} | {
        (port, "replica") for port in cluster.replica_ports}
    assert metric(p, "pgrelay_failovers_total", database="appdb") == 0


def test_unplanned_failover_moves_writes_within_seconds_and_loses_no_acknowledged_write(proxy, private_cluster):
    cluster = private_cluster
    p = on_hosts(proxy, cluster)
    old_primary, new_primary, other = cluster.primary_port, cluster.replica_ports[0], cluster.replica_ports[1]
    writers = [Writer(p, n) for n in range(1, 4)]
    reader = PortReader(p, pause=0.01)
    # pgbench writes too: its clients stop at their first error (pgbench does not reconnect), so
    # it only adds load and acknowledged rows to count, it does not measure the outage.
    script = os.path.join(cluster.dir, "insert.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO failover_bench (client) VALUES (:client_id);\n")
    bench = {}
    bench_thread = threading.Thread(target=lambda: bench.update(
        result=harness.pgbench(p.port, ["-n", "-c", "4", "-T", "8", "-f", script], timeout=60)), daemon=True)
    bench_thread.start()
    time.sleep(1.5)
    assert all(w.acked for w in writers) and not any(w.failures for w in writers)

    stopping_at = time.monotonic()
    stop_primary(cluster)
    stopped_at = time.monotonic()
    promote(cluster, 1)
    promoted_at = time.monotonic()
    assert wait_until(lambda: first_write_after(writers, promoted_at) is not None, 15), \
        "no write succeeded after the promotion"
    time.sleep(1.0)
    for w in writers:
        w.finish()
    reader.finish()
    bench_thread.join(60)

    # The outage: from the primary being down to the first write acknowledged after it; and the
    # longest stretch without any acknowledged write around it (the stop itself takes a while).
    outage = first_write_after(writers, stopped_at) - stopped_at
    times = sorted(at for w in writers for _, at in w.acked if at > stopping_at - 1)
    longest_gap = max(b - a for a, b in zip(times, times[1:]))
    after_promotion = first_write_after(writers, promoted_at) - promoted_at
    print(f"\nunplanned failover: write outage {outage:.2f} s from the stop ({stopped_at - stopping_at:.2f} s to stop, "
          f"{promoted_at - stopped_at:.2f} s to promote, first write {after_promotion:.2f} s after promote); "
          f"longest time without an acknowledged write {longest_gap:.2f} s")
    assert outage < MAX_OUTAGE_S, f"write outage {outage:.2f} s"
    assert longest_gap < MAX_OUTAGE_S, f"no write acknowledged for {longest_gap:.2f} s"

    acked = {i for w in writers for i, _ in w.acked}
    found = rows_found(cluster, new_primary)
    assert acked <= found, f"{len(acked - found)} acknowledged writes lost"
    processed, _ = harness.pgbench_counts(bench["result"].stdout)
    bench_rows = int(cluster.sql("SELECT count(*) FROM failover_bench", port=new_primary))
    assert processed and bench_rows >= processed, f"pgbench: {processed} acknowledged, {bench_rows} found"
    # Only a statement in flight when the primary stopped may fail (one per writer at most): the
    # writers that came back waited for the new primary instead of failing again.
    failures = [f for w in writers for f in w.failures]
    assert len(failures) <= len(writers), failures
    assert all(state in ("08006", "57P01") for _, state, _ in failures), failures
    # Reads kept going on the replicas throughout (the promoted one, then the one left).
    assert reader.errors == [], reader.errors
    assert reader.ports and set(reader.ports) <= {new_primary, other}, set(reader.ports)

    assert primary_port(p) == new_primary
    assert metric(p, "pgrelay_failovers_total", database="appdb") == 1
    status, health = p.http("/health")
    by_port = {b["port"]: b for b in health["backends"]}
    assert by_port[new_primary]["role"] == "primary" and by_port[new_primary]["up"]
    assert not by_port[old_primary]["up"]
    log = p.log_text()
    assert "primary moved to another server" in log and f"127.0.0.1:{new_primary}" in log


def test_planned_switchover_with_pause_fails_no_query(proxy, private_cluster):
    cluster = private_cluster
    p = on_hosts(proxy, cluster)
    new_primary = cluster.replica_ports[0]
    writers = [Writer(p, n) for n in range(1, 4)]
    time.sleep(1.0)

    paused_at = time.monotonic()
    p.console("PAUSE appdb")
    stop_primary(cluster)
    promote(cluster, 1)
    assert wait_until(lambda: primary_port(p) == new_primary, 10), "the new primary was not found"
    p.console("RESUME appdb")
    resumed_at = time.monotonic()
    assert wait_until(lambda: first_write_after(writers, resumed_at) is not None, 10)
    time.sleep(1.0)
    for w in writers:
        w.finish()

    print(f"\nplanned switchover: writes held {resumed_at - paused_at:.2f} s (PAUSE to RESUME), "
          f"first write {first_write_after(writers, resumed_at) - resumed_at:.2f} s after RESUME")
    failures = [f for w in writers for f in w.failures]
    assert failures == [], failures
    acked = {i for w in writers for i, _ in w.acked}
    assert acked <= rows_found(cluster, new_primary)
    assert metric(p, "pgrelay_failovers_total", database="appdb") == 1


def test_split_brain_stops_writes_with_a_clear_error_until_one_primary_is_left(proxy, private_cluster):
    cluster = private_cluster
    p = on_hosts(proxy, cluster)
    old_primary, new_primary = cluster.primary_port, cluster.replica_ports[0]
    early = p.connect(autocommit=True, prepare_threshold=None)
    early.execute("SELECT 1")
    promote(cluster, 1)  # the old primary still runs: two primaries

    def split():
        status, health = p.http("/health")
        return [b for b in health["backends"] if (b["reason"] or "").startswith("split_brain")]
    assert wait_until(lambda: len(split()) == 2, 10), "no split_brain reason in /health"

    # A client already logged in gets SQLSTATE 57P03 and the servers' addresses.
    with pytest.raises(psycopg.Error) as raised:
        early.execute("INSERT INTO failover_writes (id, writer) VALUES (1, 0)")
    assert raised.value.sqlstate == "57P03"
    assert "split_brain" in str(raised.value) and f"127.0.0.1:{new_primary}" in str(raised.value)
    early.close()
    # A new client is refused at login with the same words.
    with pytest.raises(psycopg.OperationalError) as raised:
        p.connect(autocommit=True).execute("INSERT INTO failover_writes (id, writer) VALUES (1, 0)")
    assert "split_brain" in str(raised.value)
    for port in (old_primary, new_primary):
        assert rows_found(cluster, port) == set(), "a write reached a server during the split brain"
    assert "split brain: writes stopped" in p.log_text()

    stop_primary(cluster)
    assert wait_until(lambda: primary_port(p) == new_primary, 10)
    with p.connect(autocommit=True) as conn:
        conn.execute("INSERT INTO failover_writes (id, writer) VALUES (2, 0)")
    assert rows_found(cluster, new_primary) == {2}


def test_transaction_on_the_lost_primary_gets_08006_and_the_next_one_works(proxy, private_cluster):
    cluster = private_cluster
    p = on_hosts(proxy, cluster)
    conn = p.connect(autocommit=False, prepare_threshold=None)
    conn.execute("INSERT INTO failover_writes (id, writer) VALUES (1, 0)")
    outcome = {}

    def waiting_statement():
        try:
            conn.execute("SELECT pg_sleep(30)")
        except psycopg.Error as error:
            outcome["error"] = error
    statement = threading.Thread(target=waiting_statement, daemon=True)
    statement.start()
    assert wait_until(lambda: cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'")
                      == "1", 10)
    # A crashed host says nothing to its clients (a stopped one sends 57P01, passed on as is).
    kill_node(cluster, "primary")
    statement.join(10)
    assert isinstance(outcome.get("error"), psycopg.OperationalError), outcome
    assert outcome["error"].sqlstate == "08006", outcome["error"]
    conn.close()

    promote(cluster, 1)
    # The client comes back: its next transaction goes to the new primary.
    with p.connect(autocommit=False) as again:
        again.execute("INSERT INTO failover_writes (id, writer) VALUES (3, 0)")
        again.commit()
    assert rows_found(cluster, cluster.replica_ports[0]) == {3}
