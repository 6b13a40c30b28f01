"""Start and stop the servers of a benchmark run: a PostgreSQL primary (through the project's
scripts/pg-cluster), PgBouncer and pgrelay. Every process is stopped by its PID."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

import procfs

BENCH_USER, BENCH_PASSWORD, BENCH_DB = "app", "app", "appdb"
POOL_SIZE = 20
MAX_CLIENT_CONN = 11000
STOP_TIMEOUT = 15


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def os_user_for_servers():
    """PostgreSQL and PgBouncer refuse to run as root: then they run as `postgres`."""
    return os.environ.get("PG_CLUSTER_OS_USER", "postgres") if os.geteuid() == 0 else None


def wait_listening(port, pid, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not procfs.alive(pid):
            raise RuntimeError(f"{what} exited during startup")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} does not listen on 127.0.0.1:{port} after {timeout:.0f}s")


def stop_pid(pid, what, sig=signal.SIGTERM):
    """Signals `pid` and waits for it to go; SIGKILL after STOP_TIMEOUT."""
    if pid is None or not procfs.alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while procfs.alive(pid) and time.monotonic() < deadline:
        try:  # reap it when it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if procfs.alive(pid):
        os.kill(pid, signal.SIGKILL)
        log(f"{what} (pid {pid}) killed")


class Postgres:
    """A PostgreSQL 15 primary made by scripts/pg-cluster in `directory`."""

    def __init__(self, pg_cluster, directory, pgbin):
        self.pg_cluster = pg_cluster
        self.dir = directory
        self.pgbin = pgbin
        self.port = None
        self.socket_dir = os.path.join(directory, "run")

    def up(self):
        subprocess.run([self.pg_cluster, "up", self.dir], check=True)
        env = subprocess.run([self.pg_cluster, "env", self.dir], check=True, capture_output=True, text=True).stdout
        for line in env.splitlines():
            if line.startswith("export PG_PRIMARY_PORT="):
                self.port = int(line.split("=", 1)[1].strip("'"))
        if not self.port:
            raise RuntimeError("pg-cluster env printed no PG_PRIMARY_PORT")

    def down(self):
        if os.path.exists(os.path.join(self.dir, "cluster.json")):
            subprocess.run([self.pg_cluster, "down", self.dir], check=False)

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.dir, "primary", "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def superuser_sql(self, sql):
        """Runs SQL as `postgres` over the trusted Unix socket; returns its unaligned output."""
        argv = [os.path.join(self.pgbin, "psql"), "-X", "-At", "-h", self.socket_dir, "-p", str(self.port),
                "-U", "postgres", "-d", BENCH_DB, "-c", sql]
        return subprocess.run(argv, check=True, capture_output=True, text=True, cwd="/").stdout

    def enable_ssl(self, cert, key):
        """ssl = on with this certificate (files the server's OS user can read), by reload."""
        for sql in (f"ALTER SYSTEM SET ssl_cert_file = '{cert}'", f"ALTER SYSTEM SET ssl_key_file = '{key}'",
                    "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"):
            self.superuser_sql(sql)
        deadline = time.monotonic() + 10
        while self.superuser_sql("SHOW ssl").strip() != "on":
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not turn ssl on (see its log)")
            time.sleep(0.1)

    def write_userlist(self, path):
        """An auth_file with the SCRAM secrets of the bench user, as PgBouncer and pgrelay read it."""
        rows = self.superuser_sql(
            f"SELECT rolname || ' ' || rolpassword FROM pg_authid WHERE rolname = '{BENCH_USER}'")
        user, secret = rows.split()
        with open(path, "w") as f:
            f.write(f'"{user}" "{secret}"\n')
        os.chmod(path, 0o600)


class PgBouncer:
    """Debian's pgbouncer in transaction mode, started as a daemon (its PID from the pidfile)."""

    def __init__(self, directory, port, backend_port, userlist, extra=""):
        self.dir = directory
        self.port = port
        self.backend_port = backend_port
        self.userlist = userlist
        self.extra = extra  # more [pgbouncer] lines (TLS settings)
        self.pid = None

    def start(self):
        if not shutil.which("pgbouncer"):
            raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
        os.makedirs(self.dir, exist_ok=True)
        ini = os.path.join(self.dir, "pgbouncer.ini")
        pidfile = os.path.join(self.dir, "pgbouncer.pid")
        shutil.copy(self.userlist, os.path.join(self.dir, "userlist.txt"))
        with open(ini, "w") as f:
            f.write(f"""[databases]
* = host=127.0.0.1 port={self.backend_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.dir}/userlist.txt
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = {MAX_CLIENT_CONN}
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits
listen_backlog = 4096
log_connections = 0
log_disconnections = 0
logfile = {self.dir}/pgbouncer.log
pidfile = {pidfile}
{self.extra}""")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        limit = MAX_CLIENT_CONN + 1000
        user = os_user_for_servers()
        # runuser applies pam_limits, which may lower the soft fd limit: raise it inside.
        shell = ["sh", "-c", 'ulimit -n "$1" && exec pgbouncer -d -q "$2"', "sh", str(limit), ini]
        if user:
            pw = pwd.getpwnam(user)
            for root, _, files in os.walk(self.dir):
                os.chown(root, pw.pw_uid, pw.pw_gid)
                for name in files:
                    os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
            shell = ["runuser", "-u", user, "--"] + shell
        subprocess.run(shell, check=True, cwd="/")
        deadline = time.monotonic() + 30
        while not self.pid and time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    self.pid = int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.05)
        if not self.pid:
            raise RuntimeError(f"pgbouncer wrote no pidfile; see {self.dir}/pgbouncer.log")
        wait_listening(self.port, self.pid, "pgbouncer")
        return self.pid

    def stop(self):
        stop_pid(self.pid, "pgbouncer")  # SIGTERM: immediate shutdown
        self.pid = None


class PgRelay:
    """pgrelay in the foreground, as a child of this script (its PID is the child's)."""

    def __init__(self, binary, directory, port, backend_port, userlist, stats=True, extra=""):
        self.binary = binary
        self.dir = directory
        self.port = port
        self.backend_port = backend_port
        self.userlist = userlist
        self.stats = stats
        self.extra = extra  # more [pgrelay] lines (TLS settings)
        self.process = None

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "pgrelay.ini")
        shutil.copy(self.userlist, os.path.join(self.dir, "userlist.txt"))
        with open(conf, "w") as f:
            f.write(f"""[pgrelay]
listen_addr = 127.0.0.1
listen_port = {self.port}
listen_backlog = 4096
unix_socket_dir =
admin_port = 0
auth_type = scram-sha-256
auth_file = userlist.txt
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = {MAX_CLIENT_CONN}
ignore_startup_parameters = extra_float_digits
log_level = warning
log_format = text
shutdown_timeout = 1
stats = {"on" if self.stats else "off"}
{self.extra}
[databases]
* = host=127.0.0.1 port={self.backend_port}
""")
        procfs.raise_fd_limit(MAX_CLIENT_CONN + 1000)
        logfile = open(os.path.join(self.dir, "pgrelay.log"), "ab")
        self.process = subprocess.Popen([self.binary, conf], cwd=self.dir, stdin=subprocess.DEVNULL,
                                        stdout=logfile, stderr=subprocess.STDOUT)
        logfile.close()
        try:
            wait_listening(self.port, self.pid, f"pgrelay (log: {self.dir}/pgrelay.log)")
        except RuntimeError:
            self.stop()
            raise
        return self.pid

    def stop(self):
        if self.process:
            stop_pid(self.process.pid, "pgrelay")
            self.process.wait()
            self.process = None
