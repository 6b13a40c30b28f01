"""Issue 4: read/write splitting — reads to healthy replicas, writes to the primary."""

import time

import psycopg
import pytest

from checks import wait_until

pytestmark = [pytest.mark.issue4, pytest.mark.pgrelay_only("read/write splitting to replicas")]

CHECK_INTERVAL_S = 1


@pytest.fixture
def routed(proxy, cluster):
    def start(pool_mode="transaction", **settings):
        p = proxy(pool_mode=pool_mode, replicas=True, default_pool_size=5,
                  replica_check_interval_s=CHECK_INTERVAL_S, **settings)
        wait_for_replicas_in_rotation(p, cluster)
        return p
    return start


def read_ports(conn, n=30, sql="SELECT inet_server_port()"):
    return [conn.execute(sql).fetchone()[0] for _ in range(n)]


def wait_for_replicas_in_rotation(p, cluster, ports=None, timeout=15):
    """Wait until the health checker has let every given replica take reads."""
    want = set(ports or cluster.replica_ports)
    seen = set()

    def all_seen():
        with p.connect(prepare_threshold=None) as conn:
            seen.update(read_ports(conn, 10))
        return want <= seen
    assert wait_until(all_seen, timeout, 0.3), f"replicas {want} never got reads (saw {seen})"


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_reads_spread_over_both_replicas(routed, cluster, pool_mode):
    p = routed(pool_mode)
    with p.connect(prepare_threshold=None) as conn:
        ports = read_ports(conn, 40)
    assert set(ports) == set(cluster.replica_ports), ports
    counts = [ports.count(r) for r in cluster.replica_ports]
    assert min(counts) >= 5, f"unbalanced: {counts}"


def test_extended_protocol_routes_like_simple(routed, cluster):
    p = routed()
    with p.connect(prepare_threshold=None) as conn:
        ports = {conn.execute("SELECT inet_server_port() + %s::int", (0,)).fetchone()[0] for _ in range(30)}
        assert ports == set(cluster.replica_ports)
        conn.execute("CREATE TABLE IF NOT EXISTS route_ext_t (port int)")
        for _ in range(5):
            row = conn.execute("INSERT INTO route_ext_t VALUES (inet_server_port() + %s::int) RETURNING port",
                               (0,)).fetchone()
            assert row == (cluster.primary_port,)


WRITES = [
    "INSERT INTO route_w_t VALUES (inet_server_port()) RETURNING port",
    "WITH w AS (INSERT INTO route_w_t VALUES (1) RETURNING 1) SELECT inet_server_port() FROM w",
    "SELECT inet_server_port() FROM (SELECT 1) s FOR UPDATE",
    "SELECT inet_server_port() WHERE nextval('route_seq') > 0",
    "SELECT inet_server_port() FROM pg_advisory_xact_lock(42)",
    "/* pgrelay:primary */ SELECT inet_server_port()",
    "UPDATE route_w_t SET port = port RETURNING inet_server_port()",
]


def test_every_write_lands_on_the_primary(routed, cluster):
    p = routed()
    with p.connect(prepare_threshold=None) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS route_w_t (port int)")
        conn.execute("CREATE SEQUENCE IF NOT EXISTS route_seq")
        for sql in WRITES:
            for _ in range(3):
                rows = conn.execute(sql).fetchall()
                assert rows and all(r[0] == cluster.primary_port for r in rows), (sql, rows)


def test_replica_hint_and_plain_read(routed, cluster):
    p = routed()
    with p.connect(prepare_threshold=None) as conn:
        ports = read_ports(conn, 10, "/* pgrelay:replica */ SELECT inet_server_port()")
        assert set(ports) <= set(cluster.replica_ports)


def test_transaction_with_a_write_never_touches_a_replica(routed, cluster):
    p = routed()
    with p.connect(prepare_threshold=None, autocommit=False) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS route_txn_t (port int)")
        conn.commit()
        for _ in range(5):
            ports = [conn.execute("SELECT inet_server_port()").fetchone()[0]]
            conn.execute("INSERT INTO route_txn_t VALUES (inet_server_port())")
            ports.append(conn.execute("SELECT inet_server_port()").fetchone()[0])
            ports.append(conn.execute("SELECT max(port) FROM route_txn_t").fetchone()[0])
            conn.commit()
            assert set(ports) == {cluster.primary_port}, ports


def test_read_only_transaction_stays_on_one_server(routed, cluster):
    p = routed()
    with p.connect(prepare_threshold=None) as conn:
        for _ in range(5):
            conn.execute("BEGIN READ ONLY")
            ports = {conn.execute("SELECT inet_server_port()").fetchone()[0] for _ in range(5)}
            conn.execute("COMMIT")
            assert len(ports) == 1
            assert ports <= set(cluster.replica_ports) | {cluster.primary_port}


def test_session_mode_pins_to_primary_after_set(routed, cluster):
    p = routed("session")
    with p.connect(prepare_threshold=None) as conn:
        assert set(read_ports(conn, 10)) <= set(cluster.replica_ports)
        conn.execute("SET work_mem = '8MB'")
        assert set(read_ports(conn, 10)) == {cluster.primary_port}


def test_read_after_write_reads_from_primary(routed, cluster):
    p = routed(read_after_write_ms=3000)
    with p.connect(prepare_threshold=None) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS route_raw_t (id int)")
        for i in range(10):
            conn.execute("INSERT INTO route_raw_t VALUES (%s)", (1000 + i,))
            assert conn.execute("SELECT count(*), inet_server_port() FROM route_raw_t WHERE id = %s",
                                (1000 + i,)).fetchone() == (1, cluster.primary_port)
        conn.execute("DELETE FROM route_raw_t")


def test_stopped_replica_gets_no_reads_and_comes_back(routed, cluster):
    p = routed()
    stopped, other = cluster.replica_ports
    try:
        cluster.stop_replica(1)
        errors, ports_after_grace = [], []
        grace_end = time.monotonic() + 2 * CHECK_INTERVAL_S + 1
        end = grace_end + 3
        with p.connect(prepare_threshold=None) as conn:
            while time.monotonic() < end:
                try:
                    port = conn.execute("SELECT inet_server_port()").fetchone()[0]
                    if time.monotonic() > grace_end:
                        ports_after_grace.append(port)
                except psycopg.Error as e:
                    if time.monotonic() > grace_end:
                        errors.append(e)
                time.sleep(0.05)
        assert not errors, errors[:3]
        assert ports_after_grace and stopped not in ports_after_grace
        assert other in ports_after_grace
    finally:
        cluster.start_replica(1)
    wait_for_replicas_in_rotation(p, cluster, [stopped], timeout=10 * CHECK_INTERVAL_S + 5)


def test_health_lists_backends(routed, cluster):
    p = routed()
    status, body = p.http("/health")
    assert status == 200
    ports = {(b["role"], b["port"]) for b in body["backends"]}
    assert ("primary", cluster.primary_port) in ports
    for r in cluster.replica_ports:
        assert ("replica", r) in ports
