"""Issue 3: transaction and statement pooling that real drivers survive."""

import asyncio
import os
import shutil
import subprocess
import threading
import time

import psycopg
import pytest

import harness
from checks import PeakServerConnections, assert_killed_client_leaves_nothing_open

pytestmark = pytest.mark.issue3

NO_PREPARED_IN_1_18 = "PgBouncer 1.18 has no prepared-statement support in transaction mode"


@pytest.fixture(scope="module")
def pgbench_tables(cluster):
    res = harness.pgbench(cluster.primary_port, ["-i", "-s", "1", "-q"], timeout=60)
    assert res.returncode == 0, res.stderr


class Churn:
    """`clients` threads that connect, run a short transaction and leave, until stopped:
    they keep taking servers from the pool, so other clients' transactions move between servers."""

    def __init__(self, p, clients=3):
        self.p, self.rounds, self.errors, self.stop = p, 0, [], threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def run(self):
        while not self.stop.is_set():
            try:
                with self.p.connect(autocommit=False) as conn:
                    conn.execute("SELECT count(*) FROM pg_class").fetchone()
                    conn.commit()
                self.rounds += 1
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(e)
                return

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


@pytest.mark.parametrize("protocol,pool_size", [
    ("simple", 2),
    ("extended", 5),
    pytest.param("prepared", 10, marks=pytest.mark.pgrelay_only(NO_PREPARED_IN_1_18)),
    pytest.param("prepared", 2, marks=pytest.mark.pgrelay_only(NO_PREPARED_IN_1_18)),
])
def test_pgbench_20_clients_transaction_mode(proxy, cluster, pgbench_tables, protocol, pool_size):
    p = proxy(pool_mode="transaction", default_pool_size=pool_size)
    with PeakServerConnections(cluster) as watch:
        run = p.pgbench(["-T", "4", "-c", "20", "-j", "2", "-M", protocol], timeout=45)
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout
    processed, failed = harness.pgbench_counts(run.stdout)
    assert processed and processed > 20, run.stdout
    assert not failed, run.stdout
    assert watch.peak <= pool_size


def test_asyncpg_without_statement_cache_while_pool_churns(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=2)

    async def main():
        conn = await p.asyncpg_connect(statement_cache_size=0)
        try:
            for i in range(100):
                assert await conn.fetchval("SELECT $1::int + 1", i) == i + 1
        finally:
            await conn.close()

    with Churn(p) as churn:
        asyncio.run(asyncio.wait_for(main(), 70))
    assert not churn.errors, churn.errors[:3]
    assert churn.rounds > 0


@pytest.mark.pgrelay_only(NO_PREPARED_IN_1_18)
def test_asyncpg_prepared_statements_across_transactions(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=2, max_prepared_statements=100)

    async def worker(n):
        conn = await p.asyncpg_connect()  # default statement cache: named prepared statements
        try:
            stmt = await conn.prepare("SELECT $1::int * $2::int")
            for i in range(60):
                assert await stmt.fetchval(i, n) == i * n
                async with conn.transaction():
                    assert await conn.fetchval("SELECT $1::text || '-' || $2::text", str(n), str(i)) == f"{n}-{i}"
                assert await conn.fetchval("SELECT $1::int + 1", i) == i + 1
        finally:
            await conn.close()

    async def main():
        await asyncio.gather(*(worker(n) for n in range(1, 6)))

    with Churn(p) as churn:
        asyncio.run(asyncio.wait_for(main(), 70))
    assert not churn.errors, churn.errors[:3]


@pytest.mark.pgrelay_only(NO_PREPARED_IN_1_18)
def test_psycopg_prepared_statements_across_transactions(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=2, max_prepared_statements=100)
    results = {}

    def worker(n):
        with p.connect(prepare_threshold=0) as conn:  # prepare every statement (named)
            for i in range(60):
                row = conn.execute("SELECT %s::int * %s::int", (i, n), prepare=True).fetchone()
                assert row == (i * n,)
                with conn.transaction():
                    row = conn.execute("SELECT %s::text || 'x'", (str(i),), prepare=True).fetchone()
                    assert row == (f"{i}x",)
            results[n] = True

    with Churn(p) as churn:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(70)
    assert not churn.errors, churn.errors[:3]
    assert sorted(results) == [1, 2, 3, 4]


def test_300_concurrent_clients_over_pool_of_10(proxy, cluster):
    p = proxy(pool_mode="transaction", default_pool_size=10, query_wait_timeout=60)

    async def client(i):
        conn = await p.asyncpg_connect(statement_cache_size=0)
        try:
            total = 0
            for k in range(3):
                async with conn.transaction():
                    total += await conn.fetchval("SELECT $1::int + $2::int", i, k)
            return total
        finally:
            await conn.close()

    async def main():
        conns_first = await asyncio.gather(*(client(i) for i in range(300)), return_exceptions=True)
        return conns_first

    with PeakServerConnections(cluster) as watch:
        results = asyncio.run(asyncio.wait_for(main(), 70))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:5]
    assert results == [3 * i + 3 for i in range(300)]
    assert watch.peak <= 10, f"{watch.peak} server connections for a pool of 10"


def test_pipelined_batches_with_an_error_in_the_middle(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=2)
    # prepare_threshold=None: unnamed statements only, so this tests pipelining alone
    with Churn(p) as churn, p.connect(prepare_threshold=None) as conn:
        for round_ in range(20):
            with conn.pipeline() as pipeline:
                first = conn.execute("SELECT %s::int", (round_,))
                with pytest.raises(psycopg.errors.DivisionByZero):
                    conn.execute("SELECT 1 / (%s::int - %s::int)", (round_, round_))
                    pipeline.sync()
                after = [conn.execute("SELECT %s::int + %s::int", (round_, k)) for k in range(3)]
            assert first.fetchone() == (round_,)
            assert [c.fetchone() for c in after] == [(round_ + k,) for k in range(3)]
            # nothing of the failed batch stays open on the connection
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert not churn.errors, churn.errors[:3]


def test_pipelined_batch_mixing_small_and_large_messages_arrives_in_order(proxy):
    # The frames of a batch are gathered into one write to the server up to a bound; a large
    # Bind in the middle must still reach the server after the small frames before it and
    # before those after it, with every value intact.
    p = proxy(pool_mode="transaction", default_pool_size=1)
    big = "x" * 200_000
    with Churn(p) as churn, p.connect(prepare_threshold=None) as conn:
        for round_ in range(5):
            with conn.pipeline():
                small_before = [conn.execute("SELECT %s::int", (round_ * 10 + k,)) for k in range(3)]
                large = conn.execute("SELECT length(%s::text), md5(%s::text)", (big, big))
                small_after = [conn.execute("SELECT %s::text", (f"after-{round_}-{k}",)) for k in range(3)]
            assert [c.fetchone() for c in small_before] == [(round_ * 10 + k,) for k in range(3)]
            length, digest = large.fetchone()
            assert length == len(big)
            assert digest == conn.execute("SELECT md5(repeat('x', 200000))").fetchone()[0]
            assert [c.fetchone() for c in small_after] == [(f"after-{round_}-{k}",) for k in range(3)]
    assert not churn.errors, churn.errors[:3]


def test_dirty_disconnect_in_transaction_mode(proxy, cluster):
    p = proxy(pool_mode="transaction", default_pool_size=2)
    assert_killed_client_leaves_nothing_open(p, cluster, "kill_txn_t")


def test_set_timezone_never_leaks_to_other_clients(proxy, cluster):
    p = proxy(pool_mode="transaction", default_pool_size=1)
    default_tz = cluster.sql("SHOW TimeZone")
    assert default_tz != "Asia/Tokyo"
    with p.connect(prepare_threshold=None) as setter, p.connect(prepare_threshold=None) as other:
        setter.execute("SET TimeZone = 'Asia/Tokyo'")
        for _ in range(10):
            assert other.execute("SHOW TimeZone").fetchone() == (default_tz,)
            assert setter.execute("SHOW TimeZone").fetchone() == ("Asia/Tokyo",)
            assert other.execute("SELECT current_setting('TimeZone')").fetchone() == (default_tz,)
        assert setter.info.parameter_status("TimeZone") == "Asia/Tokyo"
        assert other.info.parameter_status("TimeZone") == default_tz
    # a fresh client after both left sees the default too
    assert p.query("SHOW TimeZone") == default_tz


def test_statement_mode_refuses_multi_statement_transactions(proxy):
    p = proxy(pool_mode="statement", default_pool_size=2)
    assert p.query("SELECT 1") == "1"
    res = p.psql(None, stdin="BEGIN;\nSELECT 1;\nCOMMIT;\n", check=False)
    assert res.returncode != 0
    assert "transaction" in res.stderr.lower(), res.stderr
    # the proxy goes on serving single statements
    assert p.query("SELECT 2") == "2"


def test_transaction_mode_rolls_back_on_disconnect_and_reuses_server(proxy, cluster):
    p = proxy(pool_mode="transaction", default_pool_size=1)
    p.query("DROP TABLE IF EXISTS txn_rollback_t; CREATE TABLE txn_rollback_t (x int)")
    conn = p.connect(autocommit=False)
    conn.execute("INSERT INTO txn_rollback_t VALUES (1)")
    conn.close()  # leaves inside the transaction: must not commit
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and cluster.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'") != "0":
        time.sleep(0.1)
    assert p.query("SELECT count(*) FROM txn_rollback_t") == "0"
    p.query("DROP TABLE txn_rollback_t")


JDBC_JAR = "/usr/share/java/postgresql.jar"
JDBC_SOURCE = os.path.join(os.path.dirname(__file__), "jdbc", "PreparedTen.java")


@pytest.fixture(scope="module")
def jdbc_classes(workdir):
    """PreparedTen.java compiled against Debian's PostgreSQL JDBC driver."""
    if not (shutil.which("javac") and os.path.exists(JDBC_JAR)):
        pytest.skip("needs javac and libpostgresql-jdbc-java")
    out = os.path.join(workdir, "jdbc-classes")
    os.makedirs(out, exist_ok=True)
    res = subprocess.run(["javac", "-cp", JDBC_JAR, "-d", out, JDBC_SOURCE],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return out


@pytest.mark.parametrize("pool_mode", [
    "session",
    pytest.param("transaction", marks=pytest.mark.pgrelay_only(NO_PREPARED_IN_1_18)),
])
def test_jdbc_prepared_statement_ten_times(proxy, jdbc_classes, pool_mode):
    p = proxy(pool_mode=pool_mode, default_pool_size=2, max_prepared_statements=100)
    url = (f"jdbc:postgresql://127.0.0.1:{p.port}/appdb?user=app&password=app"
           f"&prepareThreshold=1&sslmode=disable")
    res = subprocess.run(["java", "-cp", f"{jdbc_classes}:{JDBC_JAR}", "PreparedTen", url],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    words = res.stdout.split()
    assert words[:3] == ["ok", "10", "server-prepared"], res.stdout
    backends = int(words[3].removeprefix("backends="))
    if pool_mode == "transaction":
        assert backends >= 2, "the statement never moved between servers: the test proves nothing"
    else:
        assert backends == 1
