"""Fixtures: one PostgreSQL cluster per session, and a factory for proxies under test."""

import os
import shutil
import signal
import tempfile
import time

import pytest

import harness

SCRAM_USER = "scramuser"


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    # SIGTERM (CI limits, `timeout`) ends the run like Ctrl-C: fixtures still stop
    # the proxies and the PostgreSQL cluster instead of leaving them running.
    signal.signal(signal.SIGTERM, _interrupt)


def pytest_report_header(config):
    binary = harness.PGRELAY_BIN if harness.PROXY_KIND == "pgrelay" else harness.PGBOUNCER_BIN
    return f"proxy under test: {harness.PROXY_KIND} ({binary})"


def pytest_collection_modifyitems(config, items):
    # RUN_PGRELAY_ONLY=1 runs them against PgBouncer anyway: they should fail there,
    # which shows that they test something.
    if harness.PROXY_KIND == "pgrelay" or os.environ.get("RUN_PGRELAY_ONLY"):
        return
    for item in items:
        mark = item.get_closest_marker("pgrelay_only")
        if mark:
            reason = mark.args[0] if mark.args else "pgrelay-only feature"
            item.add_marker(pytest.mark.skip(reason=f"{harness.PROXY_KIND}: {reason}"))


# A broken proxy can make every test run into its timeout; past this budget the
# remaining tests fail at once, so that a run (and CI) stays bounded.
SUITE_BUDGET_S = float(os.environ.get("PGRELAY_IT_BUDGET_S", "2400"))
SUITE_START = time.monotonic()


def pytest_runtest_setup(item):
    if time.monotonic() - SUITE_START > SUITE_BUDGET_S:
        pytest.fail(f"integration suite time budget ({SUITE_BUDGET_S:.0f}s, PGRELAY_IT_BUDGET_S) exhausted",
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def workdir():
    """A temp dir the `postgres` OS user can reach (PGRELAY_TEST_TMP or the system temp)."""
    base = os.environ.get("PGRELAY_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    path = tempfile.mkdtemp(prefix="pgrelay-it-", dir=base)
    os.chmod(path, 0o755)
    yield path
    if not os.environ.get("PGRELAY_KEEP_TMP"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(workdir):
    """Primary + 2 streaming replicas, with a SCRAM-only role for auth tests."""
    c = harness.Cluster(os.path.join(workdir, "cluster"), replicas=2)
    try:
        c.up()
        c.sql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{SCRAM_USER}') THEN "
              f"SET LOCAL password_encryption = 'scram-sha-256'; "
              f"CREATE ROLE {SCRAM_USER} LOGIN PASSWORD '{harness.PASSWORDS[SCRAM_USER]}'; END IF; END$$",
              dbname="postgres")
        c.sql(f"GRANT ALL ON DATABASE appdb TO {SCRAM_USER}", dbname="postgres")
        yield c
    finally:
        c.down()


def proxy_users(cluster):
    """auth_file entries: plain passwords, an md5 secret and a SCRAM secret from pg_authid."""
    return {
        "app": harness.PASSWORDS["app"],
        "admin": harness.PASSWORDS["admin"],
        "stats": harness.PASSWORDS["stats"],  # a console-only user, unknown to PostgreSQL
        "md5user": cluster.auth_secret("md5user"),
        SCRAM_USER: cluster.auth_secret(SCRAM_USER),
    }


def default_databases(cluster, replicas):
    p = cluster.primary_port
    appdb = f"host=127.0.0.1 port={p} dbname=appdb"
    if replicas:
        appdb += " replicas=" + ",".join(f"127.0.0.1:{r}" for r in cluster.replica_ports)
    return {"appdb": appdb, "postgres": f"host=127.0.0.1 port={p} dbname=postgres"}


@pytest.fixture
def proxy(request, cluster, workdir):
    """Factory: proxy(pool_mode=..., replicas=False, kind=PROXY, databases=None, user_entries=None, **ini_keys).

    `user_entries` are `[users]` lines: {"app": "query_rate_limit=50"}.

    Starts the proxy on free ports and stops it (by PID) at teardown; on a
    failed test its log is printed.
    """
    started = []

    def start(kind=None, replicas=False, databases=None, user_entries=None, **settings):
        kind = kind or harness.PROXY_KIND
        d = tempfile.mkdtemp(prefix=f"{kind}-", dir=workdir)
        os.chmod(d, 0o755)
        p = harness.Proxy(kind, d, cluster, settings,
                          databases or default_databases(cluster, replicas), proxy_users(cluster),
                          user_entries=user_entries)
        started.append(p)
        return p.start()

    yield start

    failed = any(getattr(request.node, f"rep_{w}", None) is not None
                 and getattr(request.node, f"rep_{w}").failed for w in ("setup", "call"))
    for p in started:
        p.stop()
        if failed:
            print(f"\n----- {p.kind} log ({p.log_path}) -----\n{p.log_text()[-20000:]}")


@pytest.fixture
def session_proxy(proxy):
    """A proxy in session mode with a pool of 10."""
    return proxy(pool_mode="session", default_pool_size=10)
