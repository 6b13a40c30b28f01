"""Running pgbench against one target and reading its results."""

import glob
import os
import re
import subprocess

from servers import BENCH_DB, BENCH_PASSWORD, BENCH_USER

WORKLOADS = ("select-only", "select1")
PROTOCOLS = ("simple", "extended", "prepared")


class Pgbench:
    def __init__(self, pgbin, workdir):
        self.binary = os.path.join(pgbin, "pgbench")
        self.workdir = workdir
        self.select1 = os.path.join(workdir, "select1.sql")
        with open(self.select1, "w") as f:
            f.write("SELECT 1;\n")

    @staticmethod
    def conninfo(port, sslmode="disable"):
        return f"host=127.0.0.1 port={port} user={BENCH_USER} dbname={BENCH_DB} sslmode={sslmode} connect_timeout=10"

    def env(self):
        return dict(os.environ, PGPASSWORD=BENCH_PASSWORD, PGSSLMODE="disable")

    def initialize(self, port, scale):
        """pgbench -i unless the tables already hold `scale` branches."""
        subprocess.run([self.binary, "-i", "-q", "-s", str(scale), self.conninfo(port)], env=self.env(),
                       check=True, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def run(self, port, workload, protocol, clients, duration, log_name, latency_prefix=None, sslmode="disable"):
        """One pgbench run (libpq `sslmode` as given). Returns a dict: tps, transactions, lat_avg_ms,
        failed, status, error."""
        argv = [self.binary, "-n", "-M", protocol, "-c", str(clients), "-j", str(min(2, clients)),
                "-T", str(duration)]
        argv += ["-S"] if workload == "select-only" else ["-f", self.select1]
        if latency_prefix:
            for old in glob.glob(latency_prefix + ".*"):
                os.unlink(old)
            argv += ["--log", f"--log-prefix={latency_prefix}"]
        argv.append(self.conninfo(port, sslmode))
        log_path = os.path.join(self.workdir, "logs", log_name)
        with open(log_path, "w") as log:
            rc = subprocess.run(argv, env=self.env(), cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT).returncode
        with open(log_path) as f:
            text = f.read()
        result = {"status": "ok", "error": ""}
        patterns = {
            "tps": r"^tps = ([0-9.]+) \(without initial connection time\)",
            "transactions": r"^number of transactions actually processed: ([0-9]+)",
            "lat_avg_ms": r"^latency average = ([0-9.]+) ms",
            "failed": r"^number of failed transactions: ([0-9]+)",
        }
        for key, pattern in patterns.items():
            m = re.search(pattern, text, re.M)
            result[key] = float(m.group(1)) if m else None
        if rc != 0 or result["tps"] is None or "aborted" in text:
            result["status"] = "failed"
            lines = [l for l in text.splitlines() if re.search(r"error|abort|fatal", l, re.I)]
            result["error"] = (lines[0] if lines else f"pgbench exit {rc}")[:200].replace("\t", " ")
        return result


def latencies_us(prefix):
    """Per-transaction latencies (µs) of a single-client run from the files of
    `pgbench --log --log-prefix=prefix`, ascending.

    pgbench 15 often logs 0 in its per-transaction `time` field (it reuses a timestamp taken
    before the wait for the result), so the latency is taken as the time between one
    transaction's completion stamp (time_epoch, time_us) and the previous one's, per client:
    in a closed loop that is the round trip plus pgbench's own few microseconds, the same for
    every target. The first transaction of each client (connection set-up) is left out."""
    stamps = {}
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and all(p.isdigit() for p in parts[:6]):
                    stamps.setdefault(parts[0], []).append((int(parts[1]), int(parts[4]) * 1_000_000 + int(parts[5])))
    values = []
    for seq in stamps.values():
        seq.sort()
        values += [b[1] - a[1] for a, b in zip(seq, seq[1:])]
    values.sort()
    return values


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]
