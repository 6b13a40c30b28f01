"""Issue 14: what a PgBouncer setup relies on, beyond what PgBouncer's own suite checks."""

import os
import socket
import tempfile
import time

import pytest

import conftest
import harness

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
