"""Issue 8, continued: TLS protocol and cipher settings, and a PostgreSQL that takes TLS only.

Shares the certificates of test_issue8_tls.py (made at test time with openssl).
"""

import os
import re
import subprocess

import pytest

import harness
from checks import wait_until
from test_issue8_tls import certs, client_tls, make_cert  # noqa: F401 (certs is a fixture)

pytestmark = pytest.mark.issue8


def conninfo_line(proxy, **conn):
    """psql's \\conninfo through the proxy: 'SSL connection (protocol: TLSv1.3, cipher: ...)'."""
    return proxy.psql("\\conninfo", **conn).stdout


# ---- client_tls_protocols / client_tls_ciphers --------------------------------------------

def test_client_tls_protocols_tls13_only(proxy, certs):
    p = proxy(**client_tls(certs, "require", client_tls_protocols="tlsv1.3"))
    # A client that cannot go above TLS 1.2 is refused in the handshake...
    res = p.psql("SELECT 1", sslmode="require", ssl_max_protocol_version="TLSv1.2", check=False)
    assert res.returncode != 0, "a TLS 1.2 client got in under client_tls_protocols = tlsv1.3"
    assert "protocol version" in res.stderr or "SSL" in res.stderr, res.stderr
    # ...one that may use TLS 1.3 gets in, with TLS 1.3.
    assert p.query("SELECT 'tls13'", sslmode="require", ssl_min_protocol_version="TLSv1.3") == "tls13"
    assert "protocol: TLSv1.3" in conninfo_line(p, sslmode="require")
    if harness.PROXY_KIND == "pgrelay":
        import psycopg
        # A TLS client that stays connected while both listings are read (a psql that has
        # exited may or may not be gone from them yet).
        with psycopg.connect(p.dsn(sslmode="require", ssl_min_protocol_version="TLSv1.3"), autocommit=True) as held:
            held.execute("SELECT 1")
            # Version, suite and key-exchange group, as PgBouncer shows them.
            shown = [r["tls"] for r in p.console_dicts("SHOW CLIENTS") if r["tls"]]
            assert shown and all(re.fullmatch(r"TLSv1\.3/TLS_(AES_\d+_GCM_SHA\d+|CHACHA20_POLY1305_SHA256)/ECDH=\w+", v)
                                 for v in shown), shown
            status, clients = p.http("/clients")
            assert status == 200 and any(c.get("tls", "").startswith("TLSv1.3/TLS_") for c in clients), clients


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_client_tls_ciphers_choose_the_tls12_suite(proxy, certs, cipher):
    p = proxy(**client_tls(certs, "require", client_tls_protocols="tlsv1.2", client_tls_ciphers=cipher))
    line = conninfo_line(p, sslmode="require")
    assert "protocol: TLSv1.2" in line and f"cipher: {cipher}" in line, line


@pytest.mark.pgrelay_only("checks pgrelay's configuration error text")
@pytest.mark.parametrize("key, value, message", [
    ("client_tls_protocols", "tlsv1.4", 'unknown TLS protocol "tlsv1.4"'),
    ("server_tls_protocols", "tlsv1.0,tlsv1.3", "allowed TLS versions must be contiguous"),
    ("client_tls_ciphers", "ECDHE+NOPE", 'unknown cipher or alias "NOPE"'),
    ("server_tls_ciphers", "DHE-RSA-AES128-SHA", "\"DHE-RSA-AES128-SHA\" selects no cipher suite"),
])
def test_bad_tls_settings_are_config_errors(workdir, key, value, message):
    path = os.path.join(workdir, f"bad-{key}.ini")
    with open(path, "w") as f:
        f.write(f"[pgrelay]\nlisten_port = 6432\n{key} = {value}\n[databases]\napp = host=127.0.0.1\n")
    res = subprocess.run([harness.PGRELAY_BIN, "--check", path], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1
    assert f"{path}:3: {key}: {message}" in res.stdout + res.stderr, res.stdout + res.stderr


# ---- a PostgreSQL with ssl = on and hostssl-only rules ------------------------------------

HOSTSSL_ONLY_HBA = """# TLS only on TCP: plaintext connections are rejected
local   all       all                      trust
hostssl all       md5user   127.0.0.1/32   md5
hostssl all       all       127.0.0.1/32   scram-sha-256
hostnossl all     all       127.0.0.1/32   reject
"""


@pytest.fixture(scope="module")
def ssl_only_cluster(workdir, certs):
    """A dedicated one-node cluster: ssl = on, a certificate for DNS:localhost only (no IP SAN,
    so verify-full must compare the host name), and pg_hba.conf admitting TLS connections only.
    Started and stopped (by PID) through scripts/pg-cluster."""
    d = certs.dir
    make_cert(d, "ca", "pgonly", "localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    for name in ("pgonly.crt", "pgonly.key"):
        harness.give_to_server_user(os.path.join(d, name))
    c = harness.Cluster(os.path.join(workdir, "ssl-only-cluster"), replicas=0)
    try:
        c.up()
        hba = os.path.join(c.dir, "primary", "pg_hba.conf")
        with open(hba, "w") as f:
            f.write(HOSTSSL_ONLY_HBA)
        harness.give_to_server_user(hba)
        c.sql(f"ALTER SYSTEM SET ssl_cert_file = '{certs.pgonly_crt}'", dbname="postgres")
        c.sql(f"ALTER SYSTEM SET ssl_key_file = '{certs.pgonly_key}'", dbname="postgres")
        c.sql("ALTER SYSTEM SET ssl = on", dbname="postgres")
        c.sql("SELECT pg_reload_conf()", dbname="postgres")
        assert wait_until(lambda: c.sql("SHOW ssl", dbname="postgres") == "on", timeout=10)
        yield c
    finally:
        c.down()


def ssl_only_databases(cluster, host):
    return {"appdb": f"host={host} port={cluster.primary_port} dbname=appdb"}


def test_hostssl_only_server_refuses_plaintext_directly(ssl_only_cluster):
    port = ssl_only_cluster.primary_port
    res = harness.psql(port, "SELECT 1", sslmode="disable", check=False)
    assert res.returncode != 0 and "no encryption" in res.stderr, res.stderr
    assert harness.psql(port, "SELECT 'direct tls'", sslmode="require").stdout.strip() == "direct tls"


def test_server_verify_full_to_hostssl_only(proxy, certs, ssl_only_cluster):
    p = proxy(databases=ssl_only_databases(ssl_only_cluster, "localhost"),
              server_tls_sslmode="verify-full", server_tls_ca_file=certs.ca_crt)
    assert p.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "t"
    assert p.query("SELECT current_user") == "app"


def test_server_verify_full_checks_the_host_name(proxy, certs, ssl_only_cluster):
    # The certificate names only "localhost": reached as 127.0.0.1 the name check must fail.
    # The client waits for a usable server (as in PgBouncer) until query_wait_timeout.
    p = proxy(databases=ssl_only_databases(ssl_only_cluster, "127.0.0.1"),
              server_tls_sslmode="verify-full", server_tls_ca_file=certs.ca_crt, query_wait_timeout=3)
    res = p.psql("SELECT 1", check=False)
    assert res.returncode != 0
    if harness.PROXY_KIND == "pgrelay":
        assert "TLS handshake with the server failed" in p.log_text(), p.log_text()
    # verify-ca checks the chain only, so the same address is accepted.
    p2 = proxy(databases=ssl_only_databases(ssl_only_cluster, "127.0.0.1"),
               server_tls_sslmode="verify-ca", server_tls_ca_file=certs.ca_crt)
    assert p2.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "t"


def test_server_tls_disable_to_hostssl_only_fails_clearly(proxy, ssl_only_cluster):
    p = proxy(databases=ssl_only_databases(ssl_only_cluster, "localhost"),
              server_tls_sslmode="disable", server_connect_timeout=5)
    res = p.psql("SELECT 1", check=False)
    assert res.returncode != 0
    # PostgreSQL's own reason reaches the client: no pg_hba.conf entry ... no encryption.
    assert "pg_hba.conf" in res.stderr and "no encryption" in res.stderr, res.stderr


def test_server_tls_protocols_and_ciphers(proxy, certs, ssl_only_cluster):
    p = proxy(databases=ssl_only_databases(ssl_only_cluster, "localhost"),
              server_tls_sslmode="verify-full", server_tls_ca_file=certs.ca_crt,
              server_tls_protocols="tlsv1.2", server_tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    row = p.query("SELECT version || ' ' || cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert row == "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256", row
    if harness.PROXY_KIND == "pgrelay":
        # PostgreSQL's default ssl_ecdh_curve is prime256v1.
        shown = [r["tls"] for r in p.console_dicts("SHOW SERVERS")]
        assert "TLSv1.2/ECDHE-ECDSA-AES128-GCM-SHA256/ECDH=prime256v1" in shown, shown
