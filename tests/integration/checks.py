"""Checks shared by several issues' tests: polling, server-side state, background load."""

import os
import signal
import subprocess
import threading
import time

import psycopg

import harness
from prometheus_client.parser import text_string_to_metric_families


def server_connections(cluster, user="app"):
    return int(cluster.sql(
        f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{user}' AND backend_type = 'client backend'"))


def pid_alive(pid):
    """Whether a process runs; a zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def wait_until(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def assert_killed_client_leaves_nothing_open(p, cluster, table):
    """Kill a client holding a lock mid-transaction; the server must end that transaction."""
    p.query(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (x int)")
    oid = cluster.sql(f"SELECT '{table}'::regclass::oid")
    args = [harness.pg_tool("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", p.dsn(), "-f", "-"]
    client = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        client.stdin.write(f"BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n")
        client.stdin.flush()
        held = f"SELECT count(*) FROM pg_locks WHERE relation = {oid} AND granted"
        assert wait_until(lambda: cluster.sql(held) == "1", 10), "client never took the lock"
        assert cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' "
                           "AND state LIKE 'idle in transaction%'") != "0"
    finally:
        client.kill()
        client.wait(10)
    assert wait_until(lambda: cluster.sql(held) == "0", 5), "lock still held after the client died"
    assert wait_until(lambda: cluster.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' "
        "AND state LIKE 'idle in transaction%'") == "0", 5), "transaction left open on the server"
    # another client gets the lock at once through the proxy
    p.query(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE NOWAIT; COMMIT")
    p.query(f"DROP TABLE {table}")


class QueryLoop(threading.Thread):
    """Runs SELECTs through the proxy until stopped; counts successes and errors."""

    def __init__(self, p):
        super().__init__(daemon=True)
        self.p, self.ok, self.errors, self.stop = p, 0, [], threading.Event()

    def run(self):
        try:
            with self.p.connect() as conn:
                while not self.stop.is_set():
                    if conn.execute("SELECT 7").fetchone() == (7,):
                        self.ok += 1
                    time.sleep(0.005)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(e)


class PeakServerConnections:
    """Context manager: the most server connections of `user` seen on the primary meanwhile,
    above what was open when it started."""

    def __init__(self, cluster, user="app"):
        self.cluster, self.user, self.peak = cluster, user, 0
        self.baseline = server_connections(cluster, user)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, server_connections(self.cluster, self.user) - self.baseline)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def metric(p, family, **labels):
    """The value of one sample of pgrelay's /metrics (None when absent)."""
    status, text = p.http("/metrics")
    assert status == 200
    for parsed in text_string_to_metric_families(text):
        for sample in parsed.samples:
            if sample.name == family and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def node_pid(cluster, name):
    try:
        with open(os.path.join(cluster.dir, name, "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def kill_node(cluster, name):
    """SIGKILL a node's postmaster and every process it started, as a crashed host would end
    them: nothing gets to say goodbye to its clients."""
    pm = node_pid(cluster, name)
    assert pm and pid_alive(pm), f"{name} is not running"
    procs = children(pm)
    os.kill(pm, signal.SIGKILL)
    for pid in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert wait_until(lambda: not any(pid_alive(p) for p in [pm, *procs]), 10), f"{name} survived SIGKILL"


class PortReader(threading.Thread):
    """A client reading `inet_server_port()` in a loop until `finish` (autocommit: each read is
    routed on its own); stops at its first error."""

    def __init__(self, p, pause):
        super().__init__(daemon=True)
        self.p, self.pause, self.ports, self.errors, self.stop = p, pause, [], [], threading.Event()
        self.start()

    def run(self):
        with self.p.connect(prepare_threshold=None) as conn:
            while not self.stop.is_set():
                try:
                    self.ports.append(conn.execute("SELECT inet_server_port()").fetchone()[0])
                except psycopg.Error as e:
                    self.errors.append(e)
                    return
                time.sleep(self.pause)

    def finish(self):
        self.stop.set()
        self.join(10)
        assert not self.is_alive(), "a reader hangs"
