"""Issue 14: client authentication as PgBouncer does it (what its own suite's test_auth.py and
test_no_user.py check): unknown users, auth_query and auth_dbname, the words of each refusal and
the log lines operators grep for."""

import re
import time

import psycopg
import pytest

import harness
from test_issue9_dropin import make_proxy

pytestmark = pytest.mark.issue14

IS_PGRELAY = harness.PROXY_KIND == "pgrelay"
AQ_USER, AQ_PASSWORD = "aq14", "aq14pass"


def login_error(p, user, password, dbname="appdb"):
    """The error a login through the proxy fails with (the test fails if it succeeds)."""
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(host="127.0.0.1", port=p.port, dbname=dbname, user=user, password=password,
                        connect_timeout=10).close()
    return str(info.value)


def wait_for_log(p, pattern, timeout=5):
    """The proxy's log once `pattern` (a regex) is in it; fails after the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        text = p.log_text()
        if re.search(pattern, text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} not in the log:\n{text[-3000:]}")
        time.sleep(0.1)


@pytest.fixture
def aq_role(cluster, monkeypatch):
    """A SCRAM role on the server that the proxy's auth_file does not list; its password and
    expiry are put back after the test."""
    monkeypatch.setitem(harness.PASSWORDS, AQ_USER, AQ_PASSWORD)
    cluster.sql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{AQ_USER}') THEN "
                f"CREATE ROLE {AQ_USER} LOGIN; END IF; END$$", dbname="postgres")
    reset = (f"SET password_encryption = 'scram-sha-256'; "
             f"ALTER ROLE {AQ_USER} PASSWORD '{AQ_PASSWORD}' VALID UNTIL 'infinity'")
    cluster.sql(reset, dbname="postgres")
    cluster.sql(f"GRANT ALL ON DATABASE appdb TO {AQ_USER}", dbname="postgres")
    yield AQ_USER
    cluster.sql(reset, dbname="postgres")


# ---- users the proxy does not know -------------------------------------------------------------

def test_trust_refuses_a_user_missing_from_auth_file(cluster, workdir, request):
    """auth_type = trust still needs the user in the auth_file; the refusal, and the log line of
    an unchanged pgbouncer.ini (plain text, PgBouncer's words and quotes), are PgBouncer's."""
    p = make_proxy(cluster, workdir, request, auth_type="trust")
    p.start()
    assert p.query("SELECT current_user", password="") == "app"
    assert '"trust" authentication failed' in login_error(p, "nobody", "")
    wait_for_log(p, r'closing because: "trust" authentication failed \(age=\d+s\)')


def test_unknown_user_and_wrong_password_get_the_same_answer(proxy):
    """An unknown user goes through the password exchange and fails it like a wrong password
    (PgBouncer's mock authentication): the answer does not tell which users exist."""
    p = proxy(auth_type="scram-sha-256")
    unknown = login_error(p, "nobody", "whatever")
    wrong = login_error(p, "app", "wrong")
    assert "SASL authentication failed" in unknown and "SASL authentication failed" in wrong
    p = proxy(auth_type="md5")
    assert "password authentication failed" in login_error(p, "nobody", "whatever")
    assert "password authentication failed" in login_error(p, "app", "wrong")


# ---- auth_query --------------------------------------------------------------------------------

def test_auth_query_without_a_row_is_no_such_user(proxy):
    p = proxy(auth_type="md5", auth_user="admin")
    assert "no such user" in login_error(p, "nosuchrole", "whatever")
    if IS_PGRELAY:
        wait_for_log(p, r"closing because: no such user \(age=")


def test_auth_query_runs_at_every_login(proxy, cluster, aq_role):
    """A changed password or VALID UNTIL applies at the next login (no cached secret admits it)."""
    p = proxy(auth_type="scram-sha-256", auth_user="admin")
    assert p.query("SELECT current_user", user=aq_role, password=AQ_PASSWORD) == aq_role
    cluster.sql(f"SET password_encryption = 'scram-sha-256'; ALTER ROLE {aq_role} PASSWORD 'changed'",
                dbname="postgres")
    assert "authentication failed" in login_error(p, aq_role, AQ_PASSWORD)
    assert p.query("SELECT current_user", user=aq_role, password="changed") == aq_role
    cluster.sql(f"ALTER ROLE {aq_role} VALID UNTIL '2000-01-01'", dbname="postgres")
    assert "authentication failed" in login_error(p, aq_role, "changed")


@pytest.mark.pgrelay_only("auth_dbname is PgBouncer 1.19+'s")
def test_auth_query_error_is_logged_and_refused_as_a_config_error(proxy, aq_role):
    p = proxy(auth_type="scram-sha-256", auth_user="admin",
              auth_query="SELECT usename, passwd FROM no_such_table WHERE usename = $1")
    assert "bouncer config error" in login_error(p, aq_role, AQ_PASSWORD)
    wait_for_log(p, r'relation "no_such_table" does not exist')
    assert p.query("SELECT 1") == "1", "auth_file users are not affected"


@pytest.mark.pgrelay_only("Debian's PgBouncer 1.18 leaves the client waiting; 1.25 passes the error on")
def test_auth_query_server_refusal_reaches_the_client(proxy, cluster, aq_role):
    """auth_query runs on a database the server does not have (through `*`): the client gets the
    server's words, as PgBouncer passes them on."""
    p = proxy(auth_type="scram-sha-256", auth_user="admin",
              databases={"*": f"host=127.0.0.1 port={cluster.primary_port}"})
    assert 'database "nosuchdb14" does not exist' in login_error(p, aq_role, AQ_PASSWORD, dbname="nosuchdb14")
    if IS_PGRELAY:
        wait_for_log(p, r'server login failed: FATAL database "nosuchdb14" does not exist')


# ---- auth_dbname -------------------------------------------------------------------------------

@pytest.mark.pgrelay_only("auth_dbname is PgBouncer 1.19+'s")
def test_auth_dbname_that_is_not_configured_refuses_only_the_logins_that_need_it(proxy, aq_role):
    """As PgBouncer: the proxy starts; a login that needs auth_query gets `bouncer config error`
    and the log says why; auth_file users log in."""
    p = proxy(auth_type="scram-sha-256", auth_user="admin", auth_dbname="nowhere")
    assert "bouncer config error" in login_error(p, aq_role, AQ_PASSWORD)
    wait_for_log(p, r'authentication database "nowhere" is not configured\.')
    assert p.query("SELECT 1") == "1"


@pytest.mark.pgrelay_only("auth_dbname is PgBouncer 1.19+'s")
def test_auth_dbname_served_by_the_fallback_entry(proxy, cluster, aq_role):
    port = cluster.primary_port
    p = proxy(auth_type="scram-sha-256", auth_user="admin", auth_dbname="postgres",
              databases={"appdb": f"host=127.0.0.1 port={port} dbname=appdb", "*": f"host=127.0.0.1 port={port}"})
    assert p.query("SELECT current_user", user=aq_role, password=AQ_PASSWORD) == aq_role


@pytest.mark.pgrelay_only("auth_dbname is PgBouncer 1.19+'s")
def test_disabled_or_reserved_auth_database(proxy, cluster, aq_role):
    port = cluster.primary_port
    p = proxy(auth_type="scram-sha-256", auth_user="admin", databases={
        "appdb": f"host=127.0.0.1 port={port} dbname=appdb auth_dbname=authdb",
        "authdb": f"host=127.0.0.1 port={port} dbname=postgres",
        "viaconsole": f"host=127.0.0.1 port={port} dbname=appdb auth_dbname=pgbouncer",
    })
    p.console("DISABLE authdb")
    assert 'authentication database "authdb" is disabled' in login_error(p, aq_role, AQ_PASSWORD)
    p.console("ENABLE authdb")
    assert p.query("SELECT current_user", user=aq_role, password=AQ_PASSWORD) == aq_role
    assert "bouncer config error" in login_error(p, aq_role, AQ_PASSWORD, dbname="viaconsole")
    wait_for_log(p, r'cannot use the reserved "pgbouncer" database as an auth_dbname')


@pytest.mark.pgrelay_only("auth_dbname is PgBouncer 1.19+'s")
def test_console_login_through_auth_query(proxy, aq_role):
    """A console user missing from the auth_file is looked up with the global auth_user, in the
    global auth_dbname (never in the console itself)."""
    p = proxy(auth_type="scram-sha-256", auth_user="admin", auth_dbname="postgres", stats_users=aq_role)
    assert p.console("SHOW VERSION", user=aq_role)[1], "the console answers"
    p = proxy(auth_type="scram-sha-256", auth_user="admin", stats_users=aq_role)
    assert "bouncer config error" in login_error(p, aq_role, AQ_PASSWORD, dbname="pgbouncer")
    wait_for_log(p, r'cannot use the reserved "pgbouncer" database as an auth_dbname')


# ---- server logins and pools -------------------------------------------------------------------

def test_forced_scram_user_before_any_scram_login_is_a_wrong_password_type(proxy, cluster):
    """A database forcing a user whose auth_file secret is SCRAM cannot log in to a SCRAM server
    until a client has logged in with SCRAM: PgBouncer's `wrong password type`."""
    port = cluster.primary_port
    p = proxy(auth_type="trust",
              databases={"forced": f"host=127.0.0.1 port={port} dbname=appdb user=scramuser"})
    assert "wrong password type" in login_error(p, "app", "", dbname="forced")


def test_database_removed_and_added_again_serves_again(proxy, cluster):
    p = proxy()
    assert p.query("SELECT 1") == "1"
    appdb = p.databases.pop("appdb")
    p.write_config()
    p.reload()
    deadline = time.monotonic() + 10
    while p.psql("SELECT 1", check=False).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    p.databases["appdb"] = appdb
    p.write_config()
    p.reload()
    deadline = time.monotonic() + 10
    while (res := p.psql("SELECT 1", check=False)).returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert res.returncode == 0, res.stderr


PW_ROLE, PW_PASSWORD = "pw14", "pw14pass"


@pytest.fixture
def pw_role(cluster):
    """A role whose password a test changes on the server; put back afterwards."""
    cluster.sql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PW_ROLE}') THEN "
                f"CREATE ROLE {PW_ROLE} LOGIN; END IF; END$$", dbname="postgres")
    reset = f"SET password_encryption = 'scram-sha-256'; ALTER ROLE {PW_ROLE} PASSWORD '{PW_PASSWORD}'"
    cluster.sql(reset, dbname="postgres")
    cluster.sql(f"GRANT ALL ON DATABASE appdb TO {PW_ROLE}", dbname="postgres")
    yield PW_ROLE
    cluster.sql(reset, dbname="postgres")


@pytest.mark.pgrelay_only("Debian's PgBouncer 1.18 keeps them queued; PgBouncer 1.25's kill_pool_logins fails them")
def test_server_password_change_fails_queued_clients_at_once(proxy, cluster, pw_role):
    """The password in the ini no longer works and the pool's only server is marked by RECONNECT:
    the new server's refused login fails every queued client with the server's words at once
    (PgBouncer's kill_pool_logins), not after query_wait_timeout, and the server's closing is
    logged as PgBouncer logs it."""
    import threading
    port = cluster.primary_port
    p = proxy(pool_mode="transaction", default_pool_size=1, query_wait_timeout=30, databases={
        "pw": f"host=127.0.0.1 port={port} dbname=appdb user={pw_role} password={PW_PASSWORD}"})
    assert p.query("SELECT 1", dbname="pw") == "1"
    cluster.sql(f"ALTER ROLE {pw_role} PASSWORD 'changed'", dbname="postgres")
    results = []

    def queued_client():
        start = time.monotonic()
        res = p.psql("SELECT 1", dbname="pw", check=False, timeout=60)
        results.append((res.returncode, res.stderr, time.monotonic() - start))

    with p.connect(dbname="pw") as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")  # holds the pool's only server
        threads = [threading.Thread(target=queued_client) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(1)
        p.console("RECONNECT")
        p.console("SET default_pool_size = 2")
        for t in threads:
            t.join(timeout=60)
        holder.execute("ROLLBACK")
    assert len(results) == 3
    for returncode, stderr, seconds in results:
        assert returncode != 0 and "password authentication failed" in stderr, stderr
        assert seconds < 10, f"a queued client waited {seconds:.1f}s for the error"
    if IS_PGRELAY:
        wait_for_log(p, rf'pw/{pw_role}@127\.0\.0\.1:{port} closing because: password authentication failed '
                        rf'for user "{pw_role}" \(age=0s\)')


# ---- read/write splitting with an auth_file of SCRAM secrets only --------------------------------

def scram_only_proxy(cluster, workdir, request, **settings):
    """A proxy with replicas whose auth_file holds one user's SCRAM secret from pg_authid, and no
    plain password anywhere (not started)."""
    import os
    import tempfile
    import conftest
    d = tempfile.mkdtemp(prefix="scramonly-", dir=workdir)
    os.chmod(d, 0o755)
    p = harness.Proxy(harness.PROXY_KIND, d, cluster, settings, conftest.default_databases(cluster, True),
                      {conftest.SCRAM_USER: cluster.auth_secret(conftest.SCRAM_USER)})
    request.addfinalizer(p.stop)
    return p


def replica_health(p):
    status, body = p.http("/health")
    return [b for b in body["backends"] if b["database"] == "appdb" and b["role"] == "replica"]


@pytest.mark.pgrelay_only("read/write splitting to replicas")
def test_reads_reach_replicas_with_scram_secrets_only(cluster, workdir, request):
    """Until a client logs in, the checks have no way in: /health says why and the start warns.
    After one SCRAM login, the checks log in with the keys recovered from it, and reads go to
    the replicas."""
    import conftest
    user = conftest.SCRAM_USER
    p = scram_only_proxy(cluster, workdir, request, auth_type="scram-sha-256", pool_mode="transaction",
                         replica_check_interval_s=0.5)
    p.start()
    time.sleep(1.5)
    before = replica_health(p)
    assert before and not any(b["up"] for b in before), before
    assert all(f'no client of "{user}" has logged in' in (b["reason"] or "") for b in before), before
    wait_for_log(p, r'database "appdb": its replicas get no reads until a health check can log in')
    with p.connect(user=user, prepare_threshold=None) as conn:
        deadline = time.monotonic() + 15
        ports = set()
        while not set(cluster.replica_ports) <= ports and time.monotonic() < deadline:
            ports.add(conn.execute("SELECT inet_server_port()").fetchone()[0])
            time.sleep(0.1)
    assert set(cluster.replica_ports) <= ports, f"reads never reached the replicas (saw {ports})"
    assert all(b["up"] and b["reason"] is None for b in replica_health(p))


@pytest.mark.pgrelay_only("pgrelay's --check")
def test_check_warns_about_replicas_that_cannot_be_checked(cluster, workdir, request):
    import subprocess
    p = scram_only_proxy(cluster, workdir, request, auth_type="scram-sha-256")
    p.write_config()
    out = subprocess.run([harness.PGRELAY_BIN, "--check", p.ini_path], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert 'warning: database "appdb": its replicas get no reads until a health check can log in' in out.stdout, out.stdout
    p.users = {}
    p.write_config()
    out = subprocess.run([harness.PGRELAY_BIN, "--check", p.ini_path], capture_output=True, text=True, timeout=30)
    assert 'warning: database "appdb": its replicas can never be checked' in out.stdout, out.stdout


def test_transaction_block_in_statement_mode_is_a_connection_error(proxy):
    """PgBouncer's SQLSTATE 08P01: a driver sees a broken connection (psycopg's OperationalError),
    not a failed statement, whichever statement the error reaches it with."""
    p = proxy(pool_mode="statement")
    with p.connect() as conn:
        with pytest.raises(psycopg.OperationalError) as info:
            conn.execute("BEGIN")
            conn.execute("SELECT 1")
    assert info.value.sqlstate in (None, "08P01"), info.value.sqlstate
