"""Processes the integration tests drive: a PostgreSQL cluster and the proxy under test.

The proxy is pgrelay (default) or PgBouncer (`PROXY=pgbouncer`): both read the
same pgbouncer.ini-style config written here, so the suite can be validated
against PgBouncer as a reference implementation.
"""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "lib"))
import freeport  # noqa: E402

PG_CLUSTER = os.path.join(REPO, "scripts", "pg-cluster")
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
IS_ROOT = os.geteuid() == 0
SERVER_OS_USER = "postgres"
CMD_TIMEOUT = 60

PROXY_KIND = os.environ.get("PROXY", "pgrelay")
PGRELAY_BIN = os.environ.get("PGRELAY_BIN", os.path.join(REPO, ".build", "debug", "pgrelay"))
PGBOUNCER_BIN = os.environ.get("PGBOUNCER_BIN", shutil.which("pgbouncer") or "/usr/sbin/pgbouncer")

# Config keys PgBouncer 1.18 does not know: left out of its ini (it refuses unknown keys).
PGRELAY_ONLY_KEYS = {
    "admin_addr", "admin_port", "log_format", "log_level", "log_queries", "shutdown_timeout",
    "max_prepared_statements", "slow_query_threshold_ms", "health_window_s",
    "health_degraded_ratio", "health_unhealthy_ratio", "read_write_split",
    "replica_check_interval_s", "replica_max_lag_ms", "read_after_write_ms", "write_functions",
    "max_fingerprints", "max_packet_size",
    "query_rate_limit", "query_rate_burst", "query_rate_wait_ms",
    "otlp_endpoint", "otlp_service_name", "otlp_queue_size", "trace_sample_ratio", "workers",
}

# Passwords of the roles scripts/pg-cluster creates (plus scramuser, made by the fixture).
PASSWORDS = {"app": "app", "admin": "admin", "md5user": "md5pass", "scramuser": "scrampass",
             "stats": "stats"}


def required_tool(name, package):
    """Path of a Debian tool a test needs. Missing here: the test is skipped and says why;
    missing under CI (CI=true, .ci/run installs it): the test fails."""
    import pytest
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (Debian package {package}; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def pg_tool(name):
    """Path of a PostgreSQL client tool, preferring the cluster's version."""
    path = os.path.join(PGBIN, name)
    return path if os.access(path, os.X_OK) else (shutil.which(name) or name)


def give_to_server_user(path):
    """When root, let the `postgres` OS user (PgBouncer, PostgreSQL) own path."""
    if IS_ROOT:
        pw = pwd.getpwnam(SERVER_OS_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def wait_for_port(port, timeout, proc=None, host="127.0.0.1"):
    """Wait until host:port accepts a TCP connection; False on timeout or process exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def conninfo(port, dbname="appdb", user="app", password=None, host="127.0.0.1", **extra):
    """A libpq keyword/value connection string."""
    if password is None:
        password = PASSWORDS.get(user, "")
    parts = {"host": host, "port": port, "dbname": dbname, "user": user, "password": password,
             "connect_timeout": 10}
    parts.update(extra)
    return " ".join(f"{k}='{v}'" for k, v in parts.items())


def psql(port, sql, dbname="appdb", user="app", password=None, timeout=CMD_TIMEOUT, check=True,
         stdin=None, extra_args=(), **conn):
    """Run psql -Atc SQL (or -f - with stdin); returns the CompletedProcess."""
    args = [pg_tool("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
            conninfo(port, dbname, user, password, **conn), *extra_args]
    args += ["-f", "-"] if sql is None else ["-c", sql]
    res = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"psql failed ({res.returncode}) for {sql!r}: {res.stderr.strip()}")
    return res


def pgbench(port, args, dbname="appdb", user="app", timeout=CMD_TIMEOUT):
    """Run pgbench against 127.0.0.1:port with the given arguments."""
    env = dict(os.environ, PGPASSWORD=PASSWORDS.get(user, ""), PGCONNECT_TIMEOUT="10")
    cmd = [pg_tool("pgbench"), "-h", "127.0.0.1", "-p", str(port), "-U", user, *args, dbname]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def pgbench_counts(output):
    """(processed transactions, failed transactions) from pgbench's summary."""
    processed = failed = None
    for line in output.splitlines():
        if line.startswith("number of transactions actually processed:"):
            processed = int(line.split(":")[1].split("/")[0].strip())
        elif line.startswith("number of failed transactions:"):
            failed = int(line.split(":")[1].split("(")[0].strip())
    return processed, failed


class Cluster:
    """A primary and streaming replicas run by scripts/pg-cluster in `directory`."""

    def __init__(self, directory, replicas=2):
        self.dir = directory
        self.replicas = replicas
        self.env = {}

    def cmd(self, *args, timeout=180):
        res = subprocess.run([sys.executable, PG_CLUSTER, *args], capture_output=True, text=True,
                             timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"pg-cluster {' '.join(args)} failed:\n{res.stderr}")
        return res.stdout

    def up(self):
        self.cmd("up", self.dir, "--replicas", str(self.replicas))
        for line in self.cmd("env", self.dir).splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.env[key] = value.strip("'")
        return self

    def down(self):
        self.cmd("down", self.dir, timeout=120)

    @property
    def primary_port(self):
        return int(self.env["PG_PRIMARY_PORT"])

    @property
    def replica_ports(self):
        return [int(p) for p in self.env["PG_REPLICA_PORTS"].split(",") if p]

    @property
    def socket_dir(self):
        return self.env["PG_CLUSTER_SOCKET_DIR"]

    def stop_replica(self, k):
        self.cmd("stop-replica", self.dir, str(k))

    def start_replica(self, k):
        self.cmd("start-replica", self.dir, str(k))

    def sql(self, sql, port=None, dbname="appdb"):
        """Run SQL as superuser `postgres` over the unix socket, straight to a server."""
        args = [pg_tool("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                "-p", str(port or self.primary_port), "-U", "postgres", "-d", dbname, "-c", sql]
        if IS_ROOT:
            args = ["runuser", "-u", SERVER_OS_USER, "--"] + args
        res = subprocess.run(args, capture_output=True, text=True, timeout=CMD_TIMEOUT, cwd="/")
        if res.returncode != 0:
            raise AssertionError(f"direct SQL failed: {sql!r}: {res.stderr.strip()}")
        return res.stdout.strip()

    def auth_secret(self, role):
        """The role's password secret as stored in pg_authid (md5... or SCRAM-SHA-256$...)."""
        return self.sql(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'", dbname="postgres")


class Proxy:
    """One proxy process (pgrelay or pgbouncer) with its config, log and ports."""

    def __init__(self, kind, workdir, cluster, settings, databases, users, user_entries=None):
        self.kind = kind
        self.dir = workdir
        self.cluster = cluster
        self.port, self.admin_port = freeport.free_ports(2)
        self.settings = dict(settings)
        self.databases = databases
        self.users = users
        self.user_entries = dict(user_entries or {})
        self.ini_path = os.path.join(workdir, f"{kind}.ini")
        self.log_path = os.path.join(workdir, f"{kind}.log")
        self.userlist_path = os.path.join(workdir, "userlist.txt")
        self.socket_dir = os.path.join(workdir, "sock")
        self.proc = None
        self._log = None
        # command-line flags put before the ini path (e.g. ("-u", "postgres"))
        self.extra_args = ()

    # ---- config -----------------------------------------------------------
    def config_text(self):
        section = "pgrelay" if self.kind == "pgrelay" else "pgbouncer"
        main = {
            "listen_addr": "127.0.0.1",
            "listen_port": self.port,
            "unix_socket_dir": self.socket_dir,
            "auth_type": "md5",
            "auth_file": self.userlist_path,
            "admin_users": "admin",
            "stats_users": "stats",
            "pool_mode": "session",
            "default_pool_size": 10,
            "max_client_conn": 2000,
            "ignore_startup_parameters": "extra_float_digits",
            "server_reset_query": "DISCARD ALL",
            "logfile": "",
            "admin_addr": "127.0.0.1",
            "admin_port": self.admin_port,
            "log_format": "text",
            "shutdown_timeout": 10,
        }
        main.update(self.settings)
        if self.kind != "pgrelay":
            main = {k: v for k, v in main.items() if k not in PGRELAY_ONLY_KEYS}
        lines = ["[databases]"]
        for name, entry in self.databases.items():
            if self.kind != "pgrelay":
                entry = " ".join(p for p in entry.split() if not p.startswith("replicas="))
            lines.append(f"{name} = {entry}")
        if self.user_entries:
            lines += ["", "[users]"] + [f"{name} = {entry}" for name, entry in self.user_entries.items()]
        lines += ["", f"[{section}]"]
        lines += [f"{k} = {v}" for k, v in main.items() if v is not None]
        return "\n".join(lines) + "\n"

    def write_config(self, **changes):
        """(Re)write the ini; keyword changes update [pgrelay]/[pgbouncer] keys (None drops one)."""
        self.settings.update(changes)
        with open(self.ini_path, "w") as f:
            f.write(self.config_text())
        with open(self.userlist_path, "w") as f:
            for user, secret in self.users.items():
                f.write(f'"{user}" "{secret}"\n')
        for path in (self.ini_path, self.userlist_path):
            os.chmod(path, 0o600)
            give_to_server_user(path)

    # ---- process ----------------------------------------------------------
    def start(self, timeout=30):
        os.makedirs(self.socket_dir, exist_ok=True)
        give_to_server_user(self.dir)
        give_to_server_user(self.socket_dir)
        self.write_config()
        self._log = open(self.log_path, "ab")
        kwargs = {}
        if self.kind == "pgrelay":
            if not os.access(PGRELAY_BIN, os.X_OK):
                raise RuntimeError(f"pgrelay binary not found at {PGRELAY_BIN} (swift build, or set PGRELAY_BIN)")
            argv = [PGRELAY_BIN, *self.extra_args, self.ini_path]
        else:
            argv = [PGBOUNCER_BIN, *self.extra_args, self.ini_path]
            if IS_ROOT:  # pgbouncer refuses to run as root
                kwargs = {"user": SERVER_OS_USER, "group": pwd.getpwnam(SERVER_OS_USER).pw_gid,
                          "extra_groups": []}
        # its own session: no signal meant for the test run's process group reaches it, or back
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True,
                                     **kwargs)
        if not wait_for_port(self.port, timeout, self.proc):
            self.stop()
            raise RuntimeError(f"{self.kind} did not accept on port {self.port}:\n{self.log_text()}")
        # the admin HTTP port is waited for by http(): tests that do not use it need not wait
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def reload(self):
        """SIGHUP: re-read the config."""
        self.signal(signal.SIGHUP)

    def wait_exit(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10):
        """SIGTERM by PID, SIGKILL if it lingers. Safe to call twice."""
        if self.proc and self.proc.poll() is None:
            self.signal(signal.SIGTERM)  # PgBouncer 1.18: immediate shutdown; pgrelay: graceful
            if self.wait_exit(timeout) is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- clients ----------------------------------------------------------
    def dsn(self, user="app", dbname="appdb", password=None, **extra):
        return conninfo(self.port, dbname, user, password, **extra)

    def psql(self, sql, **kwargs):
        return psql(self.port, sql, **kwargs)

    def query(self, sql, **kwargs):
        """psql -Atc SQL through the proxy; returns stdout stripped."""
        return psql(self.port, sql, **kwargs).stdout.strip()

    def pgbench(self, args, **kwargs):
        return pgbench(self.port, args, **kwargs)

    def connect(self, user="app", dbname="appdb", password=None, **kwargs):
        """A psycopg 3 connection through the proxy (autocommit unless told otherwise)."""
        import psycopg
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.dsn(user, dbname, password), **kwargs)

    async def asyncpg_connect(self, user="app", dbname="appdb", password=None, **kwargs):
        import asyncpg
        return await asyncpg.connect(host="127.0.0.1", port=self.port, user=user, database=dbname,
                                     password=password if password is not None else PASSWORDS[user],
                                     timeout=15, **kwargs)

    def console(self, command, user="admin", dbname="pgbouncer"):
        """Run an admin console command over the simple protocol: (columns, rows).

        Raises psycopg.Error with the server's SQLSTATE when the command fails.
        """
        import psycopg
        from psycopg import pq
        with psycopg.connect(self.dsn(user, dbname), autocommit=True) as conn:
            res = conn.pgconn.exec_(command.encode())
            if res.status == pq.ExecStatus.FATAL_ERROR:
                raise psycopg.errors.lookup(res.error_field(pq.DiagnosticField.SQLSTATE).decode())(
                    res.error_message.decode(errors="replace"))
            cols = [res.fname(i).decode() for i in range(res.nfields)]
            rows = [[None if res.get_value(r, c) is None else res.get_value(r, c).decode()
                     for c in range(res.nfields)] for r in range(res.ntuples)]
            return cols, rows

    def console_dicts(self, command, **kwargs):
        cols, rows = self.console(command, **kwargs)
        return [dict(zip(cols, row)) for row in rows]

    def http(self, path, method="GET", timeout=10):
        """(status, body) of a request to pgrelay's admin HTTP API; body parsed when JSON."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}", method=method,
                                     data=b"" if method == "POST" else None)
        if not wait_for_port(self.admin_port, timeout, self.proc):
            raise AssertionError(f"nothing listens on admin_port {self.admin_port}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, body, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        text = body.decode("utf-8")
        return status, (json.loads(text) if "json" in ctype else text)
