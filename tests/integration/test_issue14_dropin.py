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
