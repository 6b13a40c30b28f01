"""Issue 9: pgrelay as a drop-in for PgBouncer: its ini, command line, Unix socket and auth_query."""

import os
import signal
import subprocess
import time

import pytest

import harness
from checks import pid_alive

pytestmark = pytest.mark.issue9

IS_PGRELAY = harness.PROXY_KIND == "pgrelay"
AQ_USER, AQ_PASSWORD = "aquser", "aqpass"


class PgBouncerIni(harness.Proxy):
    """A proxy whose ini is the one written for PgBouncer (section [pgbouncer], no pgrelay keys).

    One pgrelay key stays: admin_port, because the HTTP API's default port (6433) may be taken on
    a shared test machine. `extra_lines` go at the end of the section (e.g. a key given twice).
    """

    extra_lines = ()

    def config_text(self):
        kind, self.kind = self.kind, "pgbouncer"
        try:
            text = harness.Proxy.config_text(self)
        finally:
            self.kind = kind
        lines = list(self.extra_lines)
        if kind == "pgrelay":
            lines.append(f"admin_port = {self.admin_port}")
        return text + "".join(f"{line}\n" for line in lines)


def make_proxy(cluster, workdir, request, extra_lines=(), **settings):
    """A PgBouncerIni proxy in its own folder, not started; stopped (by PID) at teardown."""
    import tempfile
    import conftest
    d = tempfile.mkdtemp(prefix="dropin-", dir=workdir)
    os.chmod(d, 0o755)
    p = PgBouncerIni(harness.PROXY_KIND, d, cluster, settings,
                     conftest.default_databases(cluster, False), conftest.proxy_users(cluster))
    p.extra_lines = extra_lines
    request.addfinalizer(p.stop)
    return p


def prepare(p):
    """Folders and files of a proxy that the test starts itself."""
    os.makedirs(p.socket_dir, exist_ok=True)
    harness.give_to_server_user(p.dir)
    harness.give_to_server_user(p.socket_dir)
    p.write_config()


def wait_gone(pid, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def unix_psql(p, sql, user, dbname, password="", as_os_user=None):
    """psql over the proxy's Unix socket; no password prompt (-w)."""
    args = [harness.pg_tool("psql"), "-X", "-At", "-w", "-h", p.socket_dir, "-p", str(p.port),
            "-U", user, "-d", dbname, "-c", sql]
    if as_os_user:
        args = ["runuser", "-u", as_os_user, "--"] + args
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="10")
    if not password:
        env.pop("PGPASSWORD")
    return subprocess.run(args, capture_output=True, text=True, timeout=30, env=env, cwd="/")


@pytest.fixture
def aq_role(cluster):
    """A SCRAM role that exists on the server but not in the proxy's auth_file."""
    cluster.sql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{AQ_USER}') THEN "
                f"SET LOCAL password_encryption = 'scram-sha-256'; "
                f"CREATE ROLE {AQ_USER} LOGIN PASSWORD '{AQ_PASSWORD}'; END IF; END$$", dbname="postgres")
    cluster.sql(f"ALTER ROLE {AQ_USER} VALID UNTIL 'infinity'", dbname="postgres")
    return AQ_USER


# ---- the ini written for PgBouncer ---------------------------------------------------------------

@pytest.mark.pgrelay_only("checks pgrelay reading PgBouncer's ini")
def test_pgbouncer_ini_runs_unchanged(cluster, workdir, request, aq_role):
    p = make_proxy(cluster, workdir, request, auth_type="scram-sha-256", auth_user="admin",
                   unix_socket_mode="0770")
    p.settings["logfile"] = os.path.join(p.dir, "proxy-logfile.log")
    p.settings["pidfile"] = os.path.join(p.dir, "proxy.pid")
    p.start()
    # clients over TCP and over the Unix socket
    assert p.query("SELECT current_user") == "app"
    res = unix_psql(p, "SELECT 1", "app", "appdb", password=harness.PASSWORDS["app"])
    assert res.returncode == 0 and res.stdout.strip() == "1", res.stderr
    sock = os.path.join(p.socket_dir, f".s.PGSQL.{p.port}")
    assert oct(os.stat(sock).st_mode & 0o777) == oct(0o770)
    # auth_user from the ini answers for a user missing from the auth_file
    assert p.query("SELECT current_user", user=aq_role, password=AQ_PASSWORD) == aq_role
    # pidfile holds the pid, logfile gets lines
    with open(p.settings["pidfile"]) as f:
        assert int(f.read().strip()) == p.pid
    assert os.path.getsize(p.settings["logfile"]) > 0
    p.stop()
    assert not os.path.exists(p.settings["pidfile"]), "pidfile removed at exit"


def test_duplicated_key_takes_last_value(cluster, workdir, request):
    p = make_proxy(cluster, workdir, request, extra_lines=["default_pool_size = 7"])
    p.start()
    config = {row["key"]: row["value"] for row in p.console_dicts("SHOW CONFIG")}
    assert config["default_pool_size"] == "7"


def test_set_default_pool_size_shows_in_show_config(proxy):
    p = proxy()
    p.console("SET default_pool_size = 5")
    config = {row["key"]: row["value"] for row in p.console_dicts("SHOW CONFIG")}
    assert config["default_pool_size"] == "5"


# ---- command line -------------------------------------------------------------------------------

@pytest.mark.pgrelay_only("starts the pgrelay binary with -d")
def test_daemon_writes_pidfile_and_refuses_a_second_start(cluster, workdir, request):
    p = make_proxy(cluster, workdir, request)
    pidfile = os.path.join(p.dir, "proxy.pid")
    p.settings["pidfile"] = pidfile
    p.settings["logfile"] = os.path.join(p.dir, "daemon.log")
    prepare(p)
    with open(pidfile, "w") as f:  # stale: a pid that cannot be running
        f.write("4194304\n")
    res = subprocess.run([harness.PGRELAY_BIN, "-d", p.ini_path], capture_output=True, text=True, timeout=90,
                         stdin=subprocess.DEVNULL, cwd=p.dir)
    assert res.returncode == 0, res.stderr
    with open(pidfile) as f:
        pid = int(f.read().strip())
    request.addfinalizer(lambda: pid_alive(pid) and os.kill(pid, signal.SIGKILL))
    try:
        assert pid_alive(pid)
        assert os.getsid(pid) == pid, "the daemon leads its own session"
        assert os.readlink(f"/proc/{pid}/exe") == os.path.realpath(harness.PGRELAY_BIN)
        assert harness.psql(p.port, "SELECT 1").stdout.strip() == "1"
        again = subprocess.run([harness.PGRELAY_BIN, "-d", p.ini_path], capture_output=True, text=True,
                               timeout=60, stdin=subprocess.DEVNULL, cwd=p.dir)
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
    assert wait_gone(pid), "daemon stops on SIGTERM"
    assert not os.path.exists(pidfile), "pidfile removed at exit"


@pytest.mark.pgrelay_only("pgrelay's command line")
def test_daemon_without_pidfile_is_refused(cluster, workdir, request):
    p = make_proxy(cluster, workdir, request)
    prepare(p)
    res = subprocess.run([harness.PGRELAY_BIN, "--daemon", p.ini_path], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert res.returncode == 1 and "pidfile" in res.stderr


@pytest.mark.pgrelay_only("pgrelay's command line")
def test_quiet_reboot_and_help_flags(cluster, workdir, request):
    help_out = subprocess.run([harness.PGRELAY_BIN, "-h"], capture_output=True, text=True, timeout=30)
    assert help_out.returncode == 0 and "--daemon" in help_out.stdout
    p = make_proxy(cluster, workdir, request)
    prepare(p)
    proc = subprocess.Popen([harness.PGRELAY_BIN, "-q", "-R", p.ini_path], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert harness.wait_for_port(p.port, 30, proc), "starts normally with -R"
        assert harness.psql(p.port, "SELECT 1").stdout.strip() == "1"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert err == "", "-q: nothing on stderr"


# ---- auth_query ---------------------------------------------------------------------------------

def test_auth_query_logs_in_a_user_missing_from_auth_file_with_scram(proxy, cluster, aq_role):
    p = proxy(auth_type="scram-sha-256", auth_user="admin", pool_mode="transaction")
    assert p.query("SELECT current_user", user=aq_role, password=AQ_PASSWORD) == aq_role
    # a second login and a second server connection (SCRAM keys passed through)
    with p.connect(user=aq_role, password=AQ_PASSWORD) as a, p.connect(user=aq_role, password=AQ_PASSWORD) as b:
        a.execute("BEGIN")
        b.execute("BEGIN")
        assert a.execute("SELECT current_user").fetchone()[0] == aq_role
        assert b.execute("SELECT current_user").fetchone()[0] == aq_role
    wrong = p.psql("SELECT 1", user=aq_role, password="wrong", check=False)
    # PgBouncer's words for a failed SCRAM exchange (issue 14)
    assert wrong.returncode != 0 and "SASL authentication failed" in wrong.stderr


def test_auth_query_respects_rolvaliduntil(proxy, cluster, aq_role):
    cluster.sql(f"ALTER ROLE {aq_role} VALID UNTIL '2000-01-01'", dbname="postgres")
    try:
        p = proxy(auth_type="scram-sha-256", auth_user="admin")
        res = p.psql("SELECT 1", user=aq_role, password=AQ_PASSWORD, check=False)
        assert res.returncode != 0 and "SASL authentication failed" in res.stderr
    finally:
        cluster.sql(f"ALTER ROLE {aq_role} VALID UNTIL 'infinity'", dbname="postgres")


def test_auth_query_user_name_is_a_parameter(proxy, cluster):
    import psycopg
    p = proxy(auth_type="scram-sha-256", auth_user="admin")
    # no role has that name: PgBouncer's "no such user" (issue 14)
    with pytest.raises(psycopg.OperationalError, match="no such user"):
        psycopg.connect(host="127.0.0.1", port=p.port, dbname="appdb", user="x' OR rolname='admin",
                        password=harness.PASSWORDS["admin"], connect_timeout=10)


def test_without_auth_user_a_missing_user_is_refused(proxy, aq_role):
    p = proxy(auth_type="scram-sha-256")
    res = p.psql("SELECT 1", user=aq_role, password=AQ_PASSWORD, check=False)
    assert res.returncode != 0


# ---- Unix socket and the console ----------------------------------------------------------------

def test_console_over_unix_socket_without_password_for_the_os_user(proxy):
    p = proxy(auth_type="scram-sha-256")
    res = unix_psql(p, "SHOW VERSION", "pgbouncer", "pgbouncer")
    assert res.returncode == 0 and res.stdout.strip(), res.stderr


@pytest.mark.skipif(not harness.IS_ROOT, reason="needs a second OS user (runs as root to switch)")
@pytest.mark.pgrelay_only("the proxy runs as root here; PgBouncer runs as postgres")
def test_console_over_unix_socket_refused_for_another_os_user(proxy):
    p = proxy(auth_type="scram-sha-256")
    res = unix_psql(p, "SHOW VERSION", "pgbouncer", "pgbouncer", as_os_user=harness.SERVER_OS_USER)
    assert res.returncode != 0
    assert "password" in res.stderr or "authentication failed" in res.stderr


@pytest.mark.skipif(not harness.IS_ROOT, reason="needs a second OS user (runs as root to switch)")
@pytest.mark.pgrelay_only("the proxy runs as root here; PgBouncer runs as postgres")
def test_peer_auth_checks_the_os_user(proxy):
    p = proxy(auth_type="peer")
    res = unix_psql(p, "SELECT 1", "app", "appdb", as_os_user=harness.SERVER_OS_USER)
    assert res.returncode != 0 and "peer authentication failed" in res.stderr
    tcp = p.psql("SELECT 1", check=False)
    assert tcp.returncode != 0, "peer is for Unix-socket clients only"


@pytest.mark.skipif(not harness.IS_ROOT, reason="needs a second OS user (runs as root to switch)")
@pytest.mark.pgrelay_only("Debian's PgBouncer 1.18 refuses auth_type = peer (invalid value)")
def test_peer_auth_admits_the_matching_os_user(cluster, workdir, request):
    # The server side trusts the cluster's Unix socket, so no password is needed anywhere:
    # the client proves who it is through the socket's peer credentials only.
    p = make_proxy(cluster, workdir, request, auth_type="peer")
    p.databases = {"appdb": f"host={cluster.socket_dir} port={cluster.primary_port} dbname=appdb"}
    p.users = dict(p.users, postgres="")  # as PgBouncer, which wants peer users in the auth_file
    p.start()
    os_user = harness.SERVER_OS_USER
    res = unix_psql(p, "SELECT current_user", os_user, "appdb", as_os_user=os_user)
    assert res.returncode == 0 and res.stdout.strip() == os_user, res.stderr
    # the same OS user asking for another database user is refused
    other = unix_psql(p, "SELECT 1", "app", "appdb", as_os_user=os_user)
    assert other.returncode != 0 and "peer authentication failed" in other.stderr


def proc_ids(pid, field):
    """The (real, effective, saved, filesystem) ids of a thread or process from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.skipif(not harness.IS_ROOT, reason="-u needs root to switch users")
@pytest.mark.pgrelay_only("PgBouncer refuses to start as root, so -u cannot be tried on it")
def test_user_flag_drops_privileges(cluster, workdir, request):
    import pwd
    p = make_proxy(cluster, workdir, request, auth_type="scram-sha-256")
    p.settings["logfile"] = os.path.join(p.dir, "as-postgres.log")
    p.extra_args = ("-u", harness.SERVER_OS_USER)
    p.start()
    entry = pwd.getpwnam(harness.SERVER_OS_USER)
    # every thread, not only the main one: NIO's threads exist before the switch
    threads = os.listdir(f"/proc/{p.pid}/task")
    assert threads
    for tid in threads:
        assert proc_ids(f"{p.pid}/task/{tid}", "Uid") == [entry.pw_uid] * 4, f"thread {tid}"
        assert proc_ids(f"{p.pid}/task/{tid}", "Gid") == [entry.pw_gid] * 4, f"thread {tid}"
    groups = set(proc_ids(p.pid, "Groups"))
    assert groups == set(os.getgrouplist(harness.SERVER_OS_USER, entry.pw_gid)), "root's groups are dropped"
    # still serves, over TCP and the Unix socket it bound as root
    assert p.query("SELECT current_user") == "app"
    # the console's "OS user running pgrelay" is now postgres, no longer root
    res = unix_psql(p, "SHOW VERSION", "pgbouncer", "pgbouncer", as_os_user=harness.SERVER_OS_USER)
    assert res.returncode == 0 and res.stdout.strip(), res.stderr
    res = unix_psql(p, "SHOW VERSION", "pgbouncer", "pgbouncer")
    assert res.returncode != 0, "root is no longer the OS user running pgrelay"
    # a reload re-reads the ini (owned by postgres, mode 0600) as the new user
    p.write_config(default_pool_size=4)
    p.reload()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        config = {row["key"]: row["value"] for row in p.console_dicts("SHOW CONFIG")}
        if config["default_pool_size"] == "4":
            break
        time.sleep(0.1)
    assert config["default_pool_size"] == "4", "reload after -u"
    # the logfile (opened as root, reopened by the reload as postgres) still gets lines
    with open(p.settings["logfile"]) as f:
        assert "reloaded" in f.read(), "logfile reopened after -u"
    # and after logrotate moved it away
    os.rename(p.settings["logfile"], p.settings["logfile"] + ".1")
    p.reload()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not os.path.exists(p.settings["logfile"]):
        time.sleep(0.1)
    p.console("SHOW VERSION")
    with open(p.settings["logfile"]) as f:
        assert "reloaded" in f.read(), "lines after the reopen"
