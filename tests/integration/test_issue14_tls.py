"""Issue 14: TLS as PgBouncer's own suite (test/test_ssl.py) drives it: TLS keys changed from the
console with SET, changed in the file with RELOAD, server connections replaced when the server
TLS setup changes, clients kept waiting while the server's certificate does not verify.

The certificates and the primary with ssl = on come from the issue 8 tests.
"""

import os
import subprocess

import pytest

import harness
from checks import wait_until
from test_issue8_tls import certs, client_tls, ssl_primary  # noqa: F401 (fixtures)
from test_issue8_tls_options import ssl_only_cluster  # noqa: F401 (fixture)
from test_issue9_dropin import make_proxy

pytestmark = pytest.mark.issue14

IS_PGRELAY = harness.PROXY_KIND == "pgrelay"
SSL_IN_USE = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
SETUP_KEPT = "TLS settings could not be applied, still using old configuration"


def console_set(p, key, value):
    """`SET key = 'value'` on the admin console through psql; returns psql's stderr (notices)."""
    res = harness.psql(p.port, f"SET {key} = '{value}'", dbname="pgbouncer", user="admin")
    return res.stderr


def backend_pid(conn):
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_console_set_turns_client_tls_on_and_off(proxy, certs):
    """Keys set one by one as PgBouncer's suite does (key, certificate, CA, then the mode): the
    mode is in force for the next client, and SET back to disable turns TLS off again."""
    p = proxy()
    console_set(p, "client_tls_key_file", certs.server_key)
    console_set(p, "client_tls_cert_file", certs.server_crt)
    console_set(p, "client_tls_ca_file", certs.ca_crt)
    console_set(p, "client_tls_sslmode", "require")
    assert p.query("SELECT 1", sslmode="verify-full", sslrootcert=certs.ca_crt) == "1"
    plaintext = p.psql("SELECT 1", sslmode="disable", check=False)
    assert plaintext.returncode != 0 and "SSL required" in plaintext.stderr, plaintext.stderr

    console_set(p, "client_tls_sslmode", "disable")
    assert p.query("SELECT 1", sslmode="disable") == "1"
    refused = p.psql("SELECT 1", sslmode="require", check=False)
    assert refused.returncode != 0 and "does not support SSL" in refused.stderr, refused.stderr


@pytest.mark.pgrelay_only("PgBouncer 1.18 has no notice for a TLS setting it cannot apply yet")
def test_console_set_that_cannot_be_applied_keeps_the_tls_in_use(proxy, certs):
    """SET client_tls_sslmode = require before any certificate: the setting changes (SHOW CONFIG),
    the admin gets PgBouncer's notice, and clients still get the TLS setup in use (none). Once
    the certificate and key are set, require is in force."""
    p = proxy()
    notice = console_set(p, "client_tls_sslmode", "require")
    assert SETUP_KEPT in notice, notice
    config = {row["key"]: row["value"] for row in p.console_dicts("SHOW CONFIG")}
    assert config["client_tls_sslmode"] == "require"
    assert p.query("SELECT 1", sslmode="disable") == "1"

    assert SETUP_KEPT in console_set(p, "client_tls_key_file", certs.server_key)
    assert console_set(p, "client_tls_cert_file", certs.server_crt) == ""
    plaintext = p.psql("SELECT 1", sslmode="disable", check=False)
    assert plaintext.returncode != 0 and "SSL required" in plaintext.stderr, plaintext.stderr
    assert p.query("SELECT 1", sslmode="require") == "1"


def test_console_set_server_tls_sslmode_replaces_server_connections(proxy, certs, ssl_primary):
    """SET server_tls_sslmode on the console: the idle server opened with the old mode is closed,
    and the next query runs on a server connection of the new mode."""
    p = proxy(server_tls_sslmode="disable")
    assert p.query(SSL_IN_USE) == "f"
    console_set(p, "server_tls_sslmode", "require")
    assert p.query(SSL_IN_USE) == "t"
    console_set(p, "server_tls_sslmode", "disable")
    assert p.query(SSL_IN_USE) == "f"


@pytest.mark.pgrelay_only("checks pgrelay's log line for servers closed after a setup change")
def test_reload_replaces_servers_only_when_the_server_tls_setup_changed(proxy, certs, ssl_primary, cluster):
    """A RELOAD that changes nothing keeps the server connection a client uses between
    transactions; one that changes server_tls_protocols closes it (logged as PgBouncer logs it),
    and the client's next transaction gets a new one."""
    p = proxy(pool_mode="transaction", server_tls_sslmode="require")
    with p.connect() as conn:
        first = backend_pid(conn)
        p.console("RELOAD")
        assert backend_pid(conn) == first, "a reload without changes replaced the server"
        p.write_config(server_tls_protocols="tlsv1.3")
        p.console("RELOAD")
        assert wait_until(lambda: cluster.sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {first}",
                                              dbname="postgres") == "0", timeout=5), "the old server is still open"
        assert backend_pid(conn) != first
        assert conn.execute(SSL_IN_USE).fetchone()[0] is True
    line = f"appdb/app@127.0.0.1:{cluster.primary_port} closing because: database configuration changed"
    assert p.log_text().count(line) == 1, p.log_text()


def test_wrong_server_ca_keeps_the_client_waiting_until_the_ca_is_fixed(proxy, certs, ssl_primary):
    """verify-full against a CA that did not sign the server's certificate: the handshake fails
    ("certificate verify failed" in the log, PgBouncer's words), the client waits in the queue
    while the pool retries, and once SET server_tls_ca_file names the right CA it is served."""
    p = proxy(server_tls_sslmode="verify-full", server_tls_ca_file=certs.otherca_crt, server_login_retry=1)
    args = [harness.pg_tool("psql"), "-X", "-At", "-c", SSL_IN_USE, p.dsn(connect_timeout=30)]
    waiting = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: "certificate verify failed" in p.log_text(), timeout=10), p.log_text()
        assert waiting.poll() is None, "the client was failed instead of kept waiting: " + waiting.stderr.read()
        console_set(p, "server_tls_ca_file", certs.ca_crt)
        out, err = waiting.communicate(timeout=15)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0, err
    assert out.strip() == "t"


@pytest.mark.pgrelay_only("PgBouncer's default since 1.21; the reference PgBouncer 1.18 still disables it")
def test_pgbouncer_file_prefers_server_tls_by_default(proxy, ssl_primary, cluster, workdir, request):
    """An unchanged pgbouncer.ini (main section [pgbouncer], no server_tls_sslmode) reaches a server
    with ssl = on over TLS, as PgBouncer 1.21+ does; pgrelay's own file keeps its default, disable."""
    pgbouncer_file = make_proxy(cluster, workdir, request).start()
    assert pgbouncer_file.query(SSL_IN_USE) == "t"
    assert proxy().query(SSL_IN_USE) == "f"


@pytest.mark.pgrelay_only("health checks and /health are pgrelay's")
def test_auth_query_and_health_checks_use_the_server_tls_setup(proxy, certs, ssl_only_cluster):
    """auth_query and the health checks open connections of their own; against a server that
    admits TLS connections only, they work because they use server_tls_sslmode as the pooled
    connections do."""
    ssl_only_cluster.sql("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aqtls') THEN "
                         "CREATE ROLE aqtls LOGIN PASSWORD 'aqtls'; END IF; END$$", dbname="postgres")
    port = ssl_only_cluster.primary_port
    # The "replica" is the primary itself: checked after the primary, it is found in the wrong
    # role when its check could log in, and down when it could not.
    p = proxy(databases={"appdb": f"host=localhost port={port} dbname=appdb replicas=localhost:{port}"},
              auth_type="scram-sha-256", auth_user="admin",
              server_tls_sslmode="verify-full", server_tls_ca_file=certs.ca_crt)
    assert p.query("SELECT current_user", user="aqtls", password="aqtls") == "aqtls"

    def statuses():
        return {row["role"]: row["status"] for row in p.console_dicts("SHOW ROUTES")}
    assert wait_until(lambda: statuses().get("replica") not in (None, "unknown"), timeout=15), statuses()
    assert statuses() == {"primary": "up", "replica": "wrongRole"}, p.log_text()


# ---- auth_type = cert -------------------------------------------------------------------------

@pytest.mark.pgrelay_only("PgBouncer 1.18 compares names as host names; the error texts are 1.25's")
def test_auth_type_cert_logs_in_the_user_the_certificate_names(proxy, certs):
    """The client certificate (CN=app, signed by the CA) is the login: no password is asked; the
    same certificate does not log in another user, and a client without one never gets in."""
    p = proxy(auth_type="cert", **client_tls(certs, "verify-full", client_tls_ca_file=certs.ca_crt))
    with_cert = {"sslmode": "require", "sslcert": certs.client_crt, "sslkey": certs.client_key, "password": ""}
    assert p.query("SELECT current_user", **with_cert) == "app"
    other = p.psql("SELECT 1", user="md5user", check=False, **with_cert)
    assert other.returncode != 0 and "certificate authentication failed" in other.stderr, other.stderr
    assert "TLS certificate name mismatch" in p.log_text()
    without = p.psql("SELECT 1", sslmode="require", password="", check=False)
    assert without.returncode != 0
    # The user must be known (auth_file or auth_query), as in PgBouncer: once it leaves the
    # auth_file, the certificate naming it no longer logs it in.
    p.users = {user: secret for user, secret in p.users.items() if user != "app"}
    p.write_config()
    p.reload()

    def refused():
        unknown = p.psql("SELECT 1", check=False, **with_cert)
        return unknown.returncode != 0 and "certificate authentication failed" in unknown.stderr
    assert wait_until(refused, timeout=10), p.log_text()


@pytest.mark.pgrelay_only("checks pgrelay's --check")
def test_check_refuses_cert_auth_without_verify_full_and_unreadable_certificates(workdir, certs):
    cases = [
        (f"auth_type = cert\nclient_tls_sslmode = require\nclient_tls_cert_file = {certs.server_crt}\n"
         f"client_tls_key_file = {certs.server_key}", "auth_type = cert needs client_tls_sslmode = verify-full"),
        (f"client_tls_sslmode = require\nclient_tls_cert_file = {certs.server_crt}\n"
         f"client_tls_key_file = {certs.server_key}.missing", f"client_tls_key_file {certs.server_key}.missing: cannot be read"),
    ]
    userlist = os.path.join(workdir, "tls-check-userlist.txt")
    with open(userlist, "w") as f:
        f.write('"app" "secret"\n')
    for number, (settings, message) in enumerate(cases):
        path = os.path.join(workdir, f"tls-check-{number}.ini")
        with open(path, "w") as f:
            f.write(f"[pgrelay]\nlisten_port = 6432\nauth_file = {userlist}\n{settings}\n"
                    "[databases]\napp = host=127.0.0.1\n")
        res = subprocess.run([harness.PGRELAY_BIN, "--check", path], capture_output=True, text=True, timeout=30)
        assert res.returncode == 1 and message in res.stdout, res.stdout + res.stderr
