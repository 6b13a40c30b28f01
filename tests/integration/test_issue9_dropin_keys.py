"""Issue 9, point 5: PgBouncer keys that change behavior, as PgBouncer 1.25 documents them.

server_login_retry, server_round_robin, server_fast_close, query_wait_notify, transaction_timeout,
max_db_client_connections / max_user_client_connections, `host=` lists with load_balance_hosts,
tcp_keepalive/tcp_keepidle (the rest of the TCP keys are read back in TCPSocketSettingsTests) and
verbose. Against Debian's PgBouncer 1.18 (PROXY=pgbouncer) the server_login_retry, server_round_robin,
server_fast_close and keepalive tests pass too; the others use keys PgBouncer added in 1.24/1.25.
"""

import re
import shutil
import socket
import subprocess
import threading
import time

import psycopg
import pytest

import harness
import rawpg
from harness import freeport

pytestmark = pytest.mark.issue9

IS_PGRELAY = harness.PROXY_KIND == "pgrelay"


def login_error(p, user="app", database="appdb"):
    """The ErrorResponse fields of a login through the proxy that fails (None if it succeeds)."""
    conn = rawpg.RawConnection(p.port, timeout=20)
    try:
        conn.login(user, harness.PASSWORDS[user], database)
    except rawpg.ProtocolError as e:
        return e.args[0]
    finally:
        conn.close()
    return None


class Forwarder:
    """A TCP forwarder on a fixed port to the primary, started and stopped by the test: a server
    that is down, then up, on an address that does not change."""

    def __init__(self, target_port):
        self.port = freeport.free_port()
        self.target_port = target_port
        self.listener = None
        self.threads = []
        self.sockets = []

    def start(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self._spawn(self._accept)

    def _spawn(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, server]
            self._spawn(self._pipe, client, server)
            self._spawn(self._pipe, server, client)

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        """Closes the listener and every forwarded connection (shutdown first: a plain close would
        not wake the threads blocked on them, and the kernel would keep the sockets open)."""
        for s in ([self.listener] if self.listener else []) + self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.listener = None
        self.sockets = []


# ---- max_db_client_connections / max_user_client_connections -----------------------------

def test_max_db_client_connections_refuses_the_next_client(proxy, cluster):
    p = proxy(max_db_client_connections=2)
    first, second = p.connect(), p.connect()
    try:
        error = login_error(p)
        assert error is not None, "a third client of appdb was let in"
        assert "max_db_client_connections" in error["M"]
        if IS_PGRELAY:
            assert error["C"] == "53300"
        # Another database is not limited by appdb's clients.
        assert p.query("SELECT 1", dbname="postgres") == "1"
        second.close()
        time.sleep(0.3)
        with p.connect() as again:
            assert again.execute("SELECT 2").fetchone() == (2,)
    finally:
        first.close()
        second.close()


def test_per_database_max_db_client_connections(proxy, cluster):
    pp = cluster.primary_port
    p = proxy(databases={"appdb": f"host=127.0.0.1 port={pp} dbname=appdb max_db_client_connections=1",
                         "postgres": f"host=127.0.0.1 port={pp} dbname=postgres"})
    with p.connect():
        error = login_error(p)
        assert error is not None and "max_db_client_connections" in error["M"]
        with p.connect(dbname="postgres"), p.connect(dbname="postgres"):
            pass


def test_max_user_client_connections_counts_the_user_over_all_databases(proxy):
    p = proxy(max_user_client_connections=2)
    with p.connect(), p.connect(dbname="postgres"):
        error = login_error(p, database="postgres")
        assert error is not None and "max_user_client_connections" in error["M"]
        if IS_PGRELAY:
            assert error["C"] == "53300"
        # Another user is not limited by app's clients.
        with p.connect(user="md5user"):
            pass


# ---- transaction_timeout -----------------------------------------------------------------

def test_transaction_timeout_disconnects_only_the_client_in_a_long_transaction(proxy, cluster):
    p = proxy(pool_mode="transaction", default_pool_size=2, transaction_timeout=2)
    slow = p.connect()
    slow.execute("BEGIN")
    slow.execute("CREATE TEMP TABLE held_open (x int)")
    busy = p.connect()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # short transactions keep working meanwhile
        assert busy.execute("SELECT 1").fetchone() == (1,)
        time.sleep(0.2)
    with pytest.raises(psycopg.Error) as failure:  # pgrelay: 25P04 (as PostgreSQL 17), PgBouncer: 08P01
        slow.execute("SELECT 1")
    assert "transaction timeout" in str(failure.value)
    assert busy.execute("SELECT 3").fetchone() == (3,)
    # The server of the timed-out transaction was closed, not pooled with its transaction open.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and cluster.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state LIKE 'idle in transaction%'") != "0":
        time.sleep(0.2)
    assert cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' "
                       "AND state LIKE 'idle in transaction%'") == "0"
    slow.close()
    busy.close()


# ---- server_login_retry ------------------------------------------------------------------

def test_server_login_retry_keeps_waiting_clients_and_fails_new_ones_fast(proxy, cluster):
    fwd = Forwarder(cluster.primary_port)
    fwd.start()
    p = proxy(pool_mode="transaction", server_login_retry=2, query_wait_timeout=30, server_connect_timeout=5,
              databases={"appdb": f"host=127.0.0.1 port={fwd.port} dbname=appdb"})
    # Both clients log in while the server is up; then it goes down, with the pool's servers.
    waiting, failing = p.connect(), p.connect()
    assert waiting.execute("SELECT 1").fetchone() == (1,)
    fwd.stop()
    time.sleep(0.5)
    result = {}

    def run_waiting_query():
        start = time.monotonic()
        try:
            result["value"] = waiting.execute("SELECT 42").fetchone()[0]
        except Exception as e:  # reported below
            result["error"] = e
        result["elapsed"] = time.monotonic() - start

    try:
        waiter = threading.Thread(target=run_waiting_query)
        waiter.start()
        time.sleep(0.7)  # its connection attempt has failed: the server is down
        start = time.monotonic()
        with pytest.raises(psycopg.Error, match="server_login_retry"):
            failing.execute("SELECT 1")
        assert time.monotonic() - start < 1.5, "a client waited instead of failing at once"
        fwd.start()  # the server is up again
        back = time.monotonic()
        waiter.join(timeout=30)
        assert "error" not in result, f"the waiting client was failed: {result.get('error')}"
        assert result.get("value") == 42
        assert result["elapsed"] >= 0.7, "the waiting client was answered while the server was down"
        if harness.PROXY_KIND == "pgrelay":
            # An unreachable server is retried with a backoff below server_login_retry (0.25 s,
            # 0.5 s, 1 s, ...): the queued client is answered about as soon as the server is back.
            assert time.monotonic() - back < 1.8, "the pool waited the whole server_login_retry"
        assert p.query("SELECT 1") == "1"
    finally:
        fwd.stop()
        waiting.close()
        failing.close()


# ---- query_wait_notify -------------------------------------------------------------------

def test_query_wait_notify_tells_a_queued_client(proxy):
    p = proxy(pool_mode="session", default_pool_size=1, query_wait_notify=1)
    holder = p.connect()
    holder.execute("SELECT 1")
    notices = []
    queued = p.connect()
    queued.add_notice_handler(lambda diag: notices.append(diag.message_primary))
    release = threading.Timer(3.5, holder.close)
    release.start()
    try:
        assert queued.execute("SELECT 7").fetchone() == (7,)
    finally:
        release.join()
        queued.close()
    assert any("client being queued" in (n or "") for n in notices), notices
    assert len(notices) == 1, "the notice is sent once per wait"


def test_query_wait_notify_zero_sends_nothing(proxy):
    p = proxy(pool_mode="session", default_pool_size=1, query_wait_notify=0)
    holder = p.connect()
    holder.execute("SELECT 1")
    notices = []
    queued = p.connect()
    queued.add_notice_handler(lambda diag: notices.append(diag.message_primary))
    release = threading.Timer(2.5, holder.close)
    release.start()
    try:
        assert queued.execute("SELECT 7").fetchone() == (7,)
    finally:
        release.join()
        queued.close()
    assert notices == []


# ---- host= lists with load_balance_hosts -------------------------------------------------

@pytest.mark.parametrize("mode", ["round-robin", "disable"])
def test_host_list_fails_over_to_the_next_host(proxy, cluster, mode):
    pp = cluster.primary_port
    # PostgreSQL listens on 127.0.0.1 only: 127.0.0.2 refuses the connection.
    p = proxy(pool_mode="transaction", server_login_retry=0.5, query_wait_timeout=20,
              databases={"appdb": f"host=127.0.0.2,127.0.0.1 port={pp} dbname=appdb load_balance_hosts={mode}"})
    start = time.monotonic()
    assert p.query("SELECT 1", timeout=30) == "1"
    assert time.monotonic() - start < 10
    with p.connect() as conn:
        for _ in range(5):
            assert conn.execute("SELECT 2").fetchone() == (2,)
    servers = p.console_dicts("SHOW SERVERS")
    assert servers and {s["addr"] for s in servers} == {"127.0.0.1"}


# ---- server_round_robin ------------------------------------------------------------------

def backend_pids_in_a_row(p, n):
    """Backend pids of n one-statement transactions of one client, after 3 servers were opened."""
    holders = [p.connect() for _ in range(3)]
    for h in holders:
        h.execute("BEGIN")
        h.execute("SELECT 1")
    for h in holders:
        h.execute("COMMIT")
    with p.connect() as conn:
        pids = [conn.execute("SELECT pg_backend_pid()", prepare=False).fetchone()[0] for _ in range(n)]
    for h in holders:
        h.close()
    return pids


def test_server_round_robin_spreads_transactions_over_idle_servers(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=3, server_round_robin=1)
    pids = backend_pids_in_a_row(p, 6)
    assert len(set(pids)) == 3, pids
    assert pids[:3] == pids[3:], f"not a rotation: {pids}"


def test_without_server_round_robin_the_newest_idle_server_is_reused(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=3, server_round_robin=0)
    pids = backend_pids_in_a_row(p, 6)
    assert len(set(pids)) == 1, pids


# ---- server_fast_close -------------------------------------------------------------------

def test_server_fast_close_ends_a_session_between_transactions_after_reconnect(proxy):
    p = proxy(pool_mode="session", server_fast_close=1)
    conn = p.connect()
    conn.execute("BEGIN")
    conn.execute("SELECT 1")
    p.console("RECONNECT")
    time.sleep(2.5)
    # A running transaction is not interrupted.
    assert conn.execute("SELECT 2").fetchone() == (2,)
    conn.execute("COMMIT")
    time.sleep(2.5)
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 3")
    conn.close()
    assert p.query("SELECT 4") == "4"


def test_without_server_fast_close_the_session_keeps_its_server(proxy):
    p = proxy(pool_mode="session", server_fast_close=0)
    with p.connect() as conn:
        conn.execute("SELECT 1")
        p.console("RECONNECT")
        time.sleep(2.5)
        assert conn.execute("SELECT 2").fetchone() == (2,)


# ---- tcp_keepalive / tcp_keepidle --------------------------------------------------------

def keepalive_timers(port_filter):
    """Seconds left on the keepalive timers of established sockets matching an ss filter, and
    ss's lines (for the failure message)."""
    out = subprocess.run(["ss", "-tnoH", "state", "established", port_filter],
                         capture_output=True, text=True, timeout=10).stdout
    timers = []
    for m in re.finditer(r"timer:\(keepalive,(?:(\d+)min)?(?:([\d.]+)sec)?(?:([\d.]+)ms)?", out):
        minutes, seconds, millis = m.groups()
        timers.append(int(minutes or 0) * 60 + float(seconds or 0) + float(millis or 0) / 1000)
    return timers, out


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_tcp_keepidle_applies_to_client_and_server_sockets(proxy, cluster):
    p = proxy(tcp_keepalive=1, tcp_keepidle=77, tcp_keepintvl=13, tcp_keepcnt=3)
    with p.connect() as conn:
        conn.execute("SELECT 1")
        # While data is unacknowledged ss shows the retransmission timer instead: look again.
        deadline = time.monotonic() + 5
        while True:
            # The proxy's side of the client connection.
            client_side, client_lines = keepalive_timers(f"( sport = :{p.port} )")
            # The proxy's side of its server connection (PostgreSQL's own sockets have sport = its port).
            server_side, server_lines = keepalive_timers(f"( dport = :{cluster.primary_port} )")
            if (client_side and server_side) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert client_side and all(0 < t <= 77 for t in client_side), client_lines
    assert server_side and any(0 < t <= 77 for t in server_side), server_lines


# ---- verbose -----------------------------------------------------------------------------

@pytest.mark.pgrelay_only("pgrelay's log lines")
def test_verbose_in_the_config_turns_on_debug_logging(proxy):
    p = proxy(verbose=1, log_level="info")
    assert p.query("SELECT 1") == "1"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "client logged in" not in p.log_text():
        time.sleep(0.1)
    assert "client logged in" in p.log_text(), "no debug line with verbose = 1"


@pytest.mark.pgrelay_only("pgrelay's log lines")
def test_without_verbose_info_level_has_no_debug_lines(proxy):
    p = proxy(verbose=0, log_level="info")
    assert p.query("SELECT 1") == "1"
    time.sleep(0.5)
    assert "client logged in" not in p.log_text()


# ---- listen_backlog ----------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_listen_backlog_is_the_backlog_of_the_listening_socket(proxy):
    p = proxy(listen_backlog=77)
    # For a listening socket, ss shows the backlog in the Send-Q column.
    out = subprocess.run(["ss", "-ltnH", f"( sport = :{p.port} )"], capture_output=True, text=True,
                         timeout=10).stdout
    backlogs = [int(line.split()[2]) for line in out.splitlines() if line.strip()]
    assert backlogs == [77], out
    if IS_PGRELAY:
        settings = {row["key"]: row["value"] for row in p.console_dicts("SHOW CONFIG")}
        assert settings["listen_backlog"] == "77"


# ---- log_connections / log_disconnections / log_pooler_errors ----------------------------

def wait_for_log(p, *needles, timeout=5):
    """The proxy's log once every needle is in it (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        text = p.log_text()
        if all(n in text for n in needles) or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def log_lines(text, needle):
    return [line for line in text.splitlines() if needle in line]


@pytest.mark.pgrelay_only("pgrelay's log lines")
def test_log_connections_and_disconnections_write_one_line_each(proxy):
    p = proxy(log_level="info")
    with p.connect() as conn:
        conn.execute("SELECT 1")
    text = wait_for_log(p, "login attempt", "closing because: client close request")
    logins = log_lines(text, "login attempt")
    assert len(logins) == 1, text
    assert "user=app" in logins[0] and "database=appdb" in logins[0] and "tls=no" in logins[0], logins
    assert "127.0.0.1" in logins[0]
    closes = log_lines(text, "closing because: client close request")
    assert len(closes) == 1 and "user=app" in closes[0], text
    assert harness.PASSWORDS["app"] + " " not in text.replace("user=app", "")


@pytest.mark.pgrelay_only("pgrelay's log lines")
def test_log_connections_off_writes_no_login_line(proxy):
    p = proxy(log_level="info", log_connections=0, log_disconnections=0)
    assert p.query("SELECT 1") == "1"
    time.sleep(0.5)
    text = p.log_text()
    assert "login attempt" not in text and "closing because" not in text, text


@pytest.mark.pgrelay_only("pgrelay's log lines")
def test_log_pooler_errors_logs_the_error_sent_to_the_client(proxy):
    p = proxy(log_level="info")
    error = login_error(p, database="no_such_db")
    assert error is not None and error["C"] == "3D000"
    text = wait_for_log(p, "pooler error")
    lines = log_lines(text, "pooler error")
    assert lines and "no such database" in lines[0] and "3D000" in lines[0], text
    assert log_lines(text, "closing because: no such database"), text


@pytest.mark.pgrelay_only("pgrelay's log lines")
def test_log_pooler_errors_off(proxy):
    p = proxy(log_level="info", log_pooler_errors=0)
    assert login_error(p, database="no_such_db") is not None
    time.sleep(0.5)
    assert "pooler error" not in p.log_text()


# ---- disable_pqexec ----------------------------------------------------------------------

def test_disable_pqexec_refuses_the_simple_protocol_only(proxy):
    p = proxy(disable_pqexec=1)
    result = p.psql("SELECT 1", check=False)
    assert result.returncode != 0
    assert "PQexec disallowed" in result.stderr
    # The extended protocol (Parse/Bind/Execute) keeps working.
    with p.connect() as conn:
        assert conn.execute("SELECT %s::int", (41,)).fetchone() == (41,)
        assert conn.execute("SELECT 2", prepare=True).fetchone() == (2,)


def test_without_disable_pqexec_the_simple_protocol_works(proxy):
    p = proxy(disable_pqexec=0)
    assert p.query("SELECT 1") == "1"


# ---- application_name_add_host -----------------------------------------------------------

def test_application_name_add_host_appends_the_client_address(proxy, cluster):
    p = proxy(application_name_add_host=1)
    with p.connect(application_name="billing") as conn:
        with socket.fromfd(conn.pgconn.socket, socket.AF_INET, socket.SOCK_STREAM) as dup:
            local_port = dup.getsockname()[1]
        shown = conn.execute("SELECT current_setting('application_name')").fetchone()[0]
        assert shown == f"billing - 127.0.0.1:{local_port}"
        assert cluster.sql("SELECT count(*) FROM pg_stat_activity "
                           f"WHERE application_name = 'billing - 127.0.0.1:{local_port}'") == "1"
    with p.connect() as conn:  # no application_name: PgBouncer names the client "app"
        shown = conn.execute("SELECT current_setting('application_name')").fetchone()[0]
        assert re.fullmatch(r"app - 127\.0\.0\.1:\d+", shown), shown


def test_without_application_name_add_host_the_name_is_unchanged(proxy):
    p = proxy(application_name_add_host=0)
    with p.connect(application_name="billing") as conn:
        assert conn.execute("SELECT current_setting('application_name')").fetchone()[0] == "billing"


# ---- scram_iterations --------------------------------------------------------------------

def scram_iterations_offered(p, user):
    """The i= of the SCRAM server-first-message the proxy sends to a client logging in as user."""
    conn = rawpg.RawConnection(p.port, timeout=20)
    try:
        seen = conn.login(user, harness.PASSWORDS[user], "appdb")
    finally:
        conn.close()
    for tag, payload in seen:
        if tag == b"R" and int.from_bytes(payload[:4], "big") == 11:
            attrs = dict(kv.split("=", 1) for kv in payload[4:].decode().split(","))
            return int(attrs["i"])
    raise AssertionError(f"no SCRAM exchange: {seen}")


def test_scram_iterations_for_a_plain_password_in_the_auth_file(proxy):
    p = proxy(auth_type="scram-sha-256", scram_iterations=5000)
    assert scram_iterations_offered(p, "app") == 5000  # app's auth_file entry is its password
    # A SCRAM secret in the auth_file keeps the iterations it was made with.
    assert scram_iterations_offered(p, "scramuser") == 4096


# ---- log_stats ---------------------------------------------------------------------------

@pytest.mark.pgrelay_only("pgrelay's log lines")
def test_log_stats_writes_the_averages_of_each_database_every_period(proxy):
    p = proxy(log_level="info", stats_period=1)
    with p.connect() as conn:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            conn.execute("SELECT 1")
            time.sleep(0.05)
    text = wait_for_log(p, "stats: ")
    lines = [line for line in log_lines(text, "stats: ") if "database=appdb" in line]
    assert lines, text
    assert re.search(r"stats: \d+ xacts/s, \d+ queries/s, in \d+ B/s, out \d+ B/s, "
                     r"xact \d+ us, query \d+ us, wait \d+ us", lines[0]), lines
    assert any(not re.search(r"stats: 0 xacts/s, 0 queries/s", line) for line in lines), lines


@pytest.mark.pgrelay_only("pgrelay's log lines")
def test_log_stats_off_writes_no_stats_line(proxy):
    p = proxy(log_level="info", stats_period=1, log_stats=0)
    assert p.query("SELECT 1") == "1"
    time.sleep(2.5)
    assert "stats: " not in p.log_text()
