"""Issue 14: what a PgBouncer setup relies on, beyond what PgBouncer's own suite checks."""

import os
import socket
import tempfile
import threading
import time

import psycopg
import pytest

import conftest
import harness
from checks import rss_bytes

pytestmark = pytest.mark.issue14

IS_PGRELAY = harness.PROXY_KIND == "pgrelay"


def read_until_closed(sock, timeout):
    """Bytes the proxy sends until it closes the connection; (bytes, seconds, closed)."""
    sock.settimeout(timeout)
    start = time.monotonic()
    received = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return received, time.monotonic() - start, True
            received += chunk
    except socket.timeout:
        return received, time.monotonic() - start, False
    except ConnectionResetError:
        return received, time.monotonic() - start, True


def test_silent_client_is_closed_by_client_login_timeout(proxy):
    """A client that connects and sends nothing is gone after client_login_timeout (PgBouncer:
    its default tcp_defer_accept defers the accept by 1 s only)."""
    p = proxy(client_login_timeout=2)
    with socket.create_connection(("127.0.0.1", p.port)) as sock:
        received, seconds, closed = read_until_closed(sock, 10)
    assert closed, f"still open after {seconds:.1f}s"
    assert seconds < 5, f"closed only after {seconds:.1f}s"
    assert b"client_login_timeout" in received


def test_client_stalled_after_startup_is_closed_by_client_login_timeout(proxy):
    """A client that sends its startup packet and then nothing (mid-authentication) is closed."""
    p = proxy(client_login_timeout=2, auth_type="scram-sha-256")
    user, db = b"app", b"appdb"
    body = b"\x00\x03\x00\x00" + b"user\x00" + user + b"\x00database\x00" + db + b"\x00\x00"
    with socket.create_connection(("127.0.0.1", p.port)) as sock:
        sock.sendall(len(body + b"1234").to_bytes(4, "big") + body)
        received, seconds, closed = read_until_closed(sock, 10)
    assert closed, f"still open after {seconds:.1f}s"
    assert seconds < 5
    assert b"client_login_timeout" in received


def test_second_instance_from_pgbouncer_ini_starts_without_admin_port(proxy):
    """Two instances whose ini does not set admin_port (an unchanged pgbouncer.ini) both start
    and serve; the one that finds the default HTTP port taken says so in its log."""
    first = proxy(admin_port=None)
    second = proxy(admin_port=None)
    for p in (first, second):
        assert p.query("SELECT 1") == "1"
    if IS_PGRELAY:
        warned = [p for p in (first, second) if "admin HTTP API not started: port 6433 is in use" in p.log_text()]
        assert warned, "neither instance reported the taken default admin port"


def test_so_reuseport_instances_share_one_port(proxy, cluster, workdir):
    """so_reuseport = 1: two processes listen on one port (each with its own Unix socket dir);
    the kernel spreads connections over both, and one going away leaves the other serving."""
    first = proxy(so_reuseport=1, admin_port=None)
    d = tempfile.mkdtemp(prefix=f"{harness.PROXY_KIND}-", dir=workdir)
    os.chmod(d, 0o755)
    second = harness.Proxy(harness.PROXY_KIND, d, cluster, dict(first.settings),
                           conftest.default_databases(cluster, False), conftest.proxy_users(cluster))
    second.port = first.port
    try:
        second.start()
        time.sleep(0.5)
        assert second.proc.poll() is None, f"second instance exited:\n{second.log_text()}"
        for _ in range(40):
            assert first.query("SELECT 1") == "1"
        served = [p for p in (first, second) if "login attempt" in p.log_text()]
        assert len(served) == 2, "the kernel gave every connection to one instance"
        first.stop()
        for _ in range(5):
            assert second.query("SELECT 1") == "1"
    finally:
        second.stop()


@pytest.mark.pgrelay_only("PgBouncer waits server_login_retry (15 s) after an attempt fails while the primary restarts")
def test_primary_restart_under_traffic_recovers_within_seconds(proxy, workdir):
    """`pg_ctl restart -m fast` of the primary while new clients connect every 100 ms and a
    long-lived client keeps querying: queries succeed again within seconds of the restart, and
    afterwards every query succeeds (dead server connections are replaced, never lent)."""
    import psycopg
    import threading
    own = harness.Cluster(os.path.join(workdir, "restart-cluster"), replicas=0).up()
    try:
        p = proxy(pool_mode="transaction", default_pool_size=4,
                  databases={"appdb": f"host=127.0.0.1 port={own.primary_port} dbname=appdb"})
        results = []  # (start time, ok, who)
        stop = threading.Event()

        def new_clients():
            while not stop.is_set():
                started = time.monotonic()
                try:
                    with psycopg.connect(p.dsn(connect_timeout=3), autocommit=True) as conn:
                        conn.execute("SELECT 1").fetchone()
                    results.append((started, True, "new"))
                except psycopg.Error:
                    results.append((started, False, "new"))
                time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))

        def long_lived():
            conn = None
            while not stop.is_set():
                started = time.monotonic()
                try:
                    if conn is None:
                        conn = psycopg.connect(p.dsn(connect_timeout=3), autocommit=True)
                    conn.execute("SELECT 1").fetchone()
                    results.append((started, True, "kept"))
                except psycopg.Error:
                    results.append((started, False, "kept"))
                    if conn is not None and conn.closed:
                        conn = None
                time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
            if conn is not None:
                conn.close()

        threads = [threading.Thread(target=new_clients), threading.Thread(target=long_lived)]
        for t in threads:
            t.start()
        time.sleep(2)
        restart_began = time.monotonic()
        own.cmd("restart-primary", own.dir)
        restarted = time.monotonic()
        time.sleep(10)
        stop.set()
        for t in threads:
            t.join(timeout=15)
        before = [ok for started, ok, _ in results if started < restart_began]
        assert before and all(before), "queries failed before the restart"
        recovered = min((started for started, ok, who in results if ok and who == "new" and started > restarted),
                        default=None)
        timeline = [(round(s - restarted, 1), ok, who) for s, ok, who in results if s > restart_began - 0.5]
        assert recovered is not None, f"no new client succeeded after the restart: {timeline}"
        outage = recovered - restarted
        assert outage < 3, f"new clients failed for {outage:.1f}s after the primary was back"
        settled = recovered + 1.0
        late_failures = [(round(started - restarted, 1), who) for started, ok, who in results
                         if not ok and started > settled]
        assert not late_failures, f"queries failed after recovery (s after restart, client): {late_failures}"
    finally:
        own.down()


def test_server_released_while_its_client_is_slow_serves_the_next_client(proxy):
    """A client that reads a large result slowly makes the proxy stop reading its server; the
    server returns to the pool when the result ends, and the next client that gets it (pool of
    one) is answered: the server's reading was turned back on when it was released."""
    import threading
    import rawpg
    p = proxy(pool_mode="transaction", default_pool_size=1)
    slow = rawpg.RawConnection(p.port, timeout=30)
    slow.login("app", "app", "appdb")
    slow.send(rawpg.message(b"Q", b"SELECT repeat('x', 2000) FROM generate_series(1, 10000)\0"))
    done = threading.Event()
    finished = threading.Event()

    def drain_slowly():
        tail = b""
        while not done.is_set():
            chunk = slow.sock.recv(8192)
            if not chunk:
                break
            tail = (tail + chunk)[-6:]
            if tail == b"Z\x00\x00\x00\x05I":
                finished.set()
                break
            time.sleep(0.002)
        done.set()

    reader = threading.Thread(target=drain_slowly)
    reader.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        # Waits for the only server, which the slow client holds until its result is sent.
        assert p.query("SELECT 42", timeout=60) == "42"
        answered_after = time.monotonic() - started
        reader.join(timeout=60)
        assert finished.is_set(), "the slow client never got its whole result"
        # The query waited for the slow result, not for a timeout.
        assert answered_after < 30
    finally:
        done.set()
        slow.close()


def test_client_that_stops_reading_holds_rows_in_postgresql_not_in_the_proxy(proxy):
    """Back-pressure server -> client: a client that asks for ~300 MB and reads nothing leaves
    the proxy's memory bounded (PostgreSQL holds the rows), and other clients are served."""
    import rawpg
    p = proxy(pool_mode="session", default_pool_size=4)
    assert p.query("SELECT 1") == "1"
    before = rss_bytes(p.pid)
    stalled = rawpg.RawConnection(p.port, timeout=30)
    try:
        stalled.login("app", "app", "appdb")
        stalled.send(rawpg.message(b"Q", b"SELECT repeat('x', 1000) FROM generate_series(1, 300000)\0"))
        time.sleep(4)
        grown = rss_bytes(p.pid) - before
        assert grown < 64 << 20, f"the proxy grew by {grown >> 20} MB for a client that reads nothing"
        assert p.query("SELECT 7") == "7"
    finally:
        stalled.close()


def test_client_sending_faster_than_its_server_takes_is_held_back(proxy, cluster):
    """Back-pressure client -> server: COPY FROM STDIN of ~150 MB into a server that stopped
    reading (its backend is SIGSTOPped) leaves the proxy's memory bounded; once the backend runs
    again every row arrives."""
    import psycopg
    import signal
    import threading
    if os.geteuid() != 0:
        pytest.skip("stopping a PostgreSQL backend needs root")
    p = proxy(pool_mode="session", default_pool_size=4)
    row = ("y" * 1000 + "\n").encode()
    rows_per_chunk = 1000
    chunks = 150
    with p.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS bp_copy")
        conn.execute("CREATE TABLE bp_copy (t text)")
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        before = rss_bytes(p.pid)
        errors = []

        started = threading.Event()

        def copy_in():
            try:
                with conn.cursor().copy("COPY bp_copy FROM STDIN") as copy:
                    copy.write(row * rows_per_chunk)
                    started.set()
                    for _ in range(chunks - 1):
                        copy.write(row * rows_per_chunk)
            except Exception as e:  # reported below
                errors.append(e)
            started.set()

        writer = threading.Thread(target=copy_in)
        writer.start()
        assert started.wait(30)
        # The COPY is under way (the server said CopyInResponse): now the server stops reading.
        os.kill(backend, signal.SIGSTOP)
        try:
            time.sleep(4)
            grown = rss_bytes(p.pid) - before
            assert writer.is_alive(), "the COPY finished although its server was stopped"
            assert grown < 64 << 20, f"the proxy grew by {grown >> 20} MB buffering a COPY"
        finally:
            os.kill(backend, signal.SIGCONT)
        writer.join(timeout=120)
        assert not errors, errors
        assert conn.execute("SELECT count(*) FROM bp_copy").fetchone()[0] == chunks * rows_per_chunk
        conn.execute("DROP TABLE bp_copy")


@pytest.mark.pgrelay_only("PgBouncer 1.23+'s signals; Debian's PgBouncer 1.18 stops at once on SIGTERM")
def test_sigterm_waits_for_clients_and_a_second_one_stops_at_once(proxy):
    import psycopg
    import signal
    p = proxy(pool_mode="transaction", shutdown_timeout=0)
    with p.connect() as conn:
        conn.execute("SELECT 1")
        p.signal(signal.SIGTERM)
        time.sleep(1)
        assert conn.execute("SELECT 2").fetchone()[0] == 2, "a connected client goes on"
        assert p.proc.poll() is None
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(p.dsn(connect_timeout=3))
        p.signal(signal.SIGTERM)
        assert p.wait_exit(10) == 0
        with pytest.raises(psycopg.OperationalError, match="server shutting down|closed"):
            conn.execute("SELECT 3")
    assert "got SIGTERM, shutting down, waiting for all clients disconnect" in p.log_text()
    assert "got SIGTERM while shutting down, fast exit" in p.log_text()


@pytest.mark.pgrelay_only("PgBouncer 1.23+'s signals; Debian's PgBouncer 1.18 stops at once on SIGINT")
def test_sigint_lets_a_transaction_finish_then_exits(proxy):
    import psycopg
    import signal
    p = proxy(pool_mode="transaction", shutdown_timeout=0)
    with p.connect(autocommit=False) as in_tx, p.connect() as idle:
        in_tx.execute("SELECT 1")
        p.signal(signal.SIGINT)
        time.sleep(0.5)
        assert in_tx.execute("SELECT 2").fetchone()[0] == 2, "the open transaction goes on"
        with pytest.raises(psycopg.OperationalError, match="server shutting down"):
            idle.execute("SELECT 1")
        assert p.proc.poll() is None, "exited while a transaction held a server"
        in_tx.commit()
        assert p.wait_exit(10) == 0, "did not exit once no server was in use"
    log = p.log_text()
    assert "got SIGINT, shutting down, waiting for all servers connections to be released" in log
    assert "server connections dropped, exiting" in log


@pytest.mark.pgrelay_only("shutdown_timeout is pgrelay's")
def test_shutdown_wait_is_bounded_by_shutdown_timeout(proxy):
    import psycopg
    import signal
    p = proxy(pool_mode="transaction", shutdown_timeout=2)
    with p.connect() as conn:
        conn.execute("SELECT 1")
        started = time.monotonic()
        p.signal(signal.SIGTERM)
        assert p.wait_exit(10) == 0
        assert 1.5 < time.monotonic() - started < 6
        with pytest.raises(psycopg.OperationalError, match="server shutting down"):
            conn.execute("SELECT 1")


@pytest.mark.parametrize("mode", ["transaction", "statement"])
def test_pipeline_error_then_late_statements_then_prepared_statement(proxy, mode):
    """psycopg pipeline: an error, a statement sent after it (the server skips it), Sync, then a
    prepared statement the server already has. The client gets every answer in order (this hung:
    the skipped statement's expected answers stayed queued ahead of the new ones)."""
    import psycopg
    p = proxy(pool_mode=mode, default_pool_size=2, max_prepared_statements=100)
    with p.connect() as conn:
        assert conn.execute("SELECT 1", prepare=True).fetchone() == (1,)
    with p.connect() as conn:
        with conn.pipeline() as pipe, conn.cursor() as cur:
            cur.execute("SELECT aaaa")
            time.sleep(0.1)
            with pytest.raises(psycopg.errors.UndefinedColumn):
                cur.execute("SELECT 123")
            with pytest.raises(psycopg.errors.PipelineAborted):
                cur.fetchall()
            pipe.sync()
            cur.execute("SELECT 1", prepare=True)
            assert cur.fetchall() == [(1,)]
        assert conn.execute("SELECT 2").fetchone() == (2,)


def app_backends(cluster):
    return int(cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND datname = 'appdb'"))


@pytest.mark.parametrize("keys,databases", [
    pytest.param({"server_idle_timeout": 2}, None, id="server_idle_timeout"),
    pytest.param({"server_lifetime": 2}, None, id="server_lifetime"),
    pytest.param({}, "server_lifetime=2", id="database server_lifetime",
                 marks=pytest.mark.pgrelay_only("per-database server_lifetime is PgBouncer 1.20+; Debian's 1.18 refuses it")),
])
def test_idle_servers_are_closed_and_stay_closed(proxy, cluster, keys, databases):
    """An idle server past server_idle_timeout / server_lifetime is closed, and no replacement is
    opened while no client needs one (it was: a closed server was replaced at once)."""
    entries = None
    if databases:
        entries = {"appdb": f"host=127.0.0.1 port={cluster.primary_port} dbname=appdb {databases}"}
    p = proxy(pool_mode="transaction", databases=entries, **keys)
    assert app_backends(cluster) == 0
    assert p.query("SELECT 1") == "1"
    assert app_backends(cluster) == 1
    time.sleep(3.5)
    assert app_backends(cluster) == 0, "the idle server is still open"
    time.sleep(1.5)
    assert app_backends(cluster) == 0, "a server was opened again with no client"
    assert p.query("SELECT 1") == "1"
    if IS_PGRELAY:
        assert "closing because: server" in p.log_text()


@pytest.mark.parametrize("delay,checks", [(0, "every reuse"), (30, "none")])
def test_server_check_query_runs_when_an_idle_server_is_reused(proxy, cluster, delay, checks):
    """server_check_query runs on a server taken from the pool once it has been idle for
    server_check_delay (0: every time), as PgBouncer; here the check is made visible by a
    sequence it advances."""
    seq = f"check_seq_{delay}_{os.getpid()}"
    cluster.sql(f"DROP SEQUENCE IF EXISTS {seq}; CREATE SEQUENCE {seq}; GRANT USAGE, SELECT ON SEQUENCE {seq} TO app")
    try:
        p = proxy(pool_mode="transaction", default_pool_size=1, server_check_delay=delay,
                  server_check_query=f"SELECT nextval('{seq}')")
        with psycopg.connect(p.dsn(), autocommit=True) as conn:
            pids = {conn.execute("SELECT pg_backend_pid()").fetchone()[0] for _ in range(6)}
        assert len(pids) == 1, "the checked server was not the one lent"
        used = int(cluster.sql(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {seq}"))
        if checks == "none":
            assert used == 0
        else:
            # The first transaction may open the server (not checked); each of the next five
            # reuses it.
            assert used >= 5
    finally:
        cluster.sql(f"DROP SEQUENCE IF EXISTS {seq}")


def test_server_failing_its_check_is_replaced_without_the_client_noticing(proxy):
    """A server whose check fails is closed and the client gets another one, no error."""
    p = proxy(pool_mode="transaction", default_pool_size=2, server_check_delay=0, server_check_query="SELECT 1/0")
    with psycopg.connect(p.dsn(), autocommit=True) as conn:
        pids = [conn.execute("SELECT pg_backend_pid()").fetchone()[0] for _ in range(4)]
    if IS_PGRELAY:
        # Debian's PgBouncer 1.18 lends the server all the same.
        assert len(set(pids)) == 4, f"a server that failed its check was lent again: {pids}"
        assert "test query failed" in p.log_text()


@pytest.mark.pgrelay_only("[users] idle_transaction_timeout is PgBouncer 1.24+; Debian's 1.18 refuses it")
def test_users_entry_idle_transaction_timeout_closes_that_users_clients_only(proxy):
    """A [users] entry's idle_transaction_timeout applies to that user's clients, with PgBouncer's
    message and SQLSTATE 08P01 (psycopg's OperationalError); other users keep the global (off)."""
    p = proxy(pool_mode="transaction", user_entries={"app": "idle_transaction_timeout=1"})
    with psycopg.connect(p.dsn()) as app, psycopg.connect(p.dsn(user="md5user", password="md5pass")) as other:
        app.execute("SELECT 1")
        other.execute("SELECT 1")
        time.sleep(2.5)
        with pytest.raises(psycopg.OperationalError, match="idle transaction timeout") as failure:
            app.execute("SELECT 2")
        assert failure.value.sqlstate == "08P01"
        assert other.execute("SELECT 2").fetchone() == (2,)
        other.rollback()


def test_client_waiting_for_a_server_longer_than_query_timeout_fails(proxy, cluster):
    """As PgBouncer, query_timeout also bounds the wait for a server: with the only server busy,
    a queued client fails with query_timeout instead of waiting query_wait_timeout."""
    p = proxy(pool_mode="transaction", default_pool_size=1, query_timeout=2, query_wait_timeout=60)
    holder = psycopg.connect(p.dsn())
    try:
        holder.execute("SELECT 1")  # a transaction stays open: the one server is taken
        start = time.monotonic()
        # PgBouncer 1.25 says query_timeout, Debian's 1.18 query timeout
        with pytest.raises(psycopg.OperationalError, match="query.timeout"):
            with psycopg.connect(p.dsn(), autocommit=True) as waiter:
                waiter.execute("SELECT 1")
        assert time.monotonic() - start < 10
    finally:
        # (PgBouncer also closes the holder: its query_timeout counts from the last request,
        # idle in a transaction or not; pgrelay's only times a running request.)
        holder.close()


def test_clients_logging_in_together_on_a_new_pool_open_one_server_each(proxy, cluster):
    """Two clients log in at the same moment to a pool that has no server yet and each runs a
    query: two server connections are opened, as PgBouncer opens (its own suite counts them,
    test_load_balance_hosts). The parameters a login ends with come from the first server; a
    client still waiting for them when they arrive logs in without holding a server. With two
    reactors the clients land on different threads, where the extra connection used to appear
    in some attempts, so several fresh pools are tried."""
    names = [f"together{i}" for i in range(6)]
    entry = f"host=127.0.0.1 port={cluster.primary_port} dbname=appdb"
    p = proxy(workers=2, pool_mode="statement", databases={name: entry for name in names})

    def sleep_once(dbname, start):
        start.wait()
        with p.connect(dbname=dbname) as conn:
            conn.execute("SELECT pg_sleep(0.3)")

    for name in names:
        start = threading.Barrier(2)
        threads = [threading.Thread(target=sleep_once, args=(name, start)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    log = p.log_text()
    opened = {name: sum(1 for line in log.splitlines() if f"{name}/" in line and "new connection to server" in line)
              for name in names}
    assert all(count == 2 for count in opened.values()), opened
