"""Issue 8: TLS between clients and the proxy, and between the proxy and PostgreSQL.

Certificates are made at test time with openssl: a test CA, a second CA nobody trusts,
a server certificate for localhost/127.0.0.1 and a client certificate for user `app`.
"""

import os
import shutil
import socket
import ssl
import struct
import subprocess

import psycopg
import pytest

import harness
import rawpg
from checks import wait_until

pytestmark = pytest.mark.issue8

OPENSSL = shutil.which("openssl") or "openssl"


def openssl(*args, cwd):
    res = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {res.stderr}")


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_cert(d, ca, name, cn, extensions):
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(extensions)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    os.chmod(os.path.join(d, f"{name}.key"), 0o600)


class Certs:
    def __init__(self, d):
        self.dir = d

    def __getattr__(self, name):
        # certs.server_crt -> <dir>/server.crt
        stem, _, ext = name.rpartition("_")
        return os.path.join(self.dir, f"{stem}.{ext}")


@pytest.fixture(scope="module")
def certs(workdir):
    d = os.path.join(workdir, "tls")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    make_ca(d, "ca")
    make_ca(d, "otherca")
    server_ext = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    make_cert(d, "ca", "server", "localhost", server_ext)
    # The same names signed by the CA nobody trusts: for the rotation test.
    make_cert(d, "otherca", "rotated", "localhost", server_ext)
    make_cert(d, "ca", "client", "app", "extendedKeyUsage=clientAuth\n")
    # PostgreSQL insists that its key belongs to it and is not readable by others.
    shutil.copy(os.path.join(d, "server.crt"), os.path.join(d, "pg.crt"))
    shutil.copy(os.path.join(d, "server.key"), os.path.join(d, "pg.key"))
    os.chmod(os.path.join(d, "pg.key"), 0o600)
    for name in ("pg.crt", "pg.key"):
        harness.give_to_server_user(os.path.join(d, name))
    return Certs(d)


def client_tls(certs, mode="require", **extra):
    settings = {"client_tls_sslmode": mode, "client_tls_cert_file": certs.server_crt,
                "client_tls_key_file": certs.server_key}
    settings.update(extra)
    return settings


def tls_column(proxy, command, **conn):
    """The `tls` values of SHOW CLIENTS/SERVERS rows, read through psql with `conn` options."""
    out = harness.psql(proxy.port, f"{command}", dbname="pgbouncer", user="admin", **conn).stdout
    header = harness.psql(proxy.port, f"{command}", dbname="pgbouncer", user="admin",
                          extra_args=("-P", "tuples_only=off"), **conn).stdout.splitlines()[0].split("|")
    index = header.index("tls")
    return [line.split("|")[index] for line in out.splitlines() if line]


# ---- client side ---------------------------------------------------------------------------

def test_psql_and_pgbench_with_sslmode_require(proxy, certs, monkeypatch):
    p = proxy(**client_tls(certs, "require"))
    assert p.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", sslmode="require") == "f"
    assert p.query("SELECT 41 + 1", sslmode="require") == "42"
    # SCRAM over TLS: only SCRAM-SHA-256 is offered; libpq's default channel_binding=prefer copes.
    assert p.query("SELECT current_user", user="scramuser", sslmode="require") == "scramuser"
    assert any(v.startswith("TLSv1.") for v in tls_column(p, "SHOW CLIENTS", sslmode="require"))
    script = os.path.join(certs.dir, "select1.sql")
    with open(script, "w") as f:
        f.write("SELECT 1;\n")
    monkeypatch.setenv("PGSSLMODE", "require")
    res = p.pgbench(["-n", "-c", "2", "-t", "20", "-f", script])
    assert res.returncode == 0, res.stderr
    assert harness.pgbench_counts(res.stdout)[0] == 40


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_verify_full_checks_host_name(proxy, certs, host):
    p = proxy(**client_tls(certs, "require"))
    assert p.query("SELECT 'verified'", host=host, sslmode="verify-full", sslrootcert=certs.ca_crt) == "verified"
    # A CA that did not sign the proxy's certificate: libpq refuses the proxy.
    res = p.psql("SELECT 1", host=host, sslmode="verify-full", sslrootcert=certs.otherca_crt, check=False)
    assert res.returncode != 0 and "certificate verify failed" in res.stderr


def test_plaintext_refused_under_require(proxy, certs):
    p = proxy(**client_tls(certs, "require"))
    res = p.psql("SELECT 1", sslmode="disable", check=False)
    assert res.returncode != 0
    assert "SSL required" in res.stderr


def test_prefer_serves_both(proxy, certs):
    p = proxy(**client_tls(certs, "prefer"))
    assert p.query("SELECT 'plain'", sslmode="disable") == "plain"
    assert p.query("SELECT 'tls'", sslmode="require") == "tls"


@pytest.mark.pgrelay_only("checks pgrelay's own startup error for a missing client_tls_ca_file")
def test_client_certificates_under_verify_ca(proxy, certs):
    p = proxy(**client_tls(certs, "verify-ca", client_tls_ca_file=certs.ca_crt))
    res = p.psql("SELECT 1", sslmode="require", check=False)
    assert res.returncode != 0, "a client without a certificate got in"
    assert p.query("SELECT current_user", sslmode="require", sslcert=certs.client_crt,
                   sslkey=certs.client_key) == "app"


def test_garbage_after_ssl_request_is_refused(proxy, certs):
    p = proxy(**client_tls(certs, "require"))
    conn = rawpg.RawConnection(p.port)
    try:
        # The SSLRequest and, in the same packet, bytes that pretend to follow the handshake.
        conn.send(struct.pack("!II", 8, rawpg.SSL_REQUEST_CODE) + rawpg.startup_packet({"user": "app"}))
        data = conn.read_until_closed()
        assert not data.startswith(b"S"), "the proxy accepted TLS after injected bytes"
        assert data[:1] in (b"", b"E"), data
    finally:
        conn.close()


def tls_context(certs, alpn):
    context = ssl.create_default_context(cafile=certs.ca_crt)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


@pytest.mark.pgrelay_only("direct TLS (PostgreSQL 17 sslnegotiation=direct) is newer than PgBouncer 1.18")
def test_direct_tls_without_ssl_request(proxy, certs):
    p = proxy(**client_tls(certs, "require"))
    conn = rawpg.RawConnection(p.port)
    try:
        conn.sock = tls_context(certs, ["postgresql"]).wrap_socket(conn.sock, server_hostname="localhost")
        assert conn.sock.selected_alpn_protocol() == "postgresql"
        conn.login("app", "app", "appdb")
        rows, error = conn.simple_query("SELECT 'direct'")
        assert error is None and rows == [["direct"]]
    finally:
        conn.terminate()
    # Without ALPN "postgresql" the connection is not PostgreSQL's: refused after the handshake.
    conn = rawpg.RawConnection(p.port)
    try:
        conn.sock = tls_context(certs, None).wrap_socket(conn.sock, server_hostname="localhost")
        tag, payload = conn.read_message()
        assert tag == b"E" and "ALPN" in rawpg.error_fields(payload)["M"]
    finally:
        conn.close()


@pytest.mark.pgrelay_only("reload semantics of certificate files differ in PgBouncer 1.18")
def test_certificate_rotation_by_reload(proxy, certs):
    p = proxy(**client_tls(certs, "require"))
    with psycopg.connect(p.dsn(sslmode="verify-full", sslrootcert=certs.ca_crt), autocommit=True) as kept:
        p.write_config(client_tls_cert_file=certs.rotated_crt, client_tls_key_file=certs.rotated_key)
        p.reload()
        # New connections get the new certificate (signed by the other CA)...
        assert wait_until(lambda: p.psql("SELECT 1", sslmode="verify-full", sslrootcert=certs.otherca_crt,
                                  check=False).returncode == 0, timeout=10)
        res = p.psql("SELECT 1", sslmode="verify-full", sslrootcert=certs.ca_crt, check=False)
        assert res.returncode != 0
        # ...and the connection made before the reload goes on.
        assert kept.execute("SELECT 'still here'").fetchone()[0] == "still here"


# ---- server side ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ssl_primary(cluster, certs):
    """The test cluster's primary with ssl = on (replicas keep ssl off)."""
    cluster.sql("ALTER SYSTEM SET ssl_cert_file = '%s'" % certs.pg_crt, dbname="postgres")
    cluster.sql("ALTER SYSTEM SET ssl_key_file = '%s'" % certs.pg_key, dbname="postgres")
    cluster.sql("ALTER SYSTEM SET ssl = on", dbname="postgres")
    cluster.sql("SELECT pg_reload_conf()", dbname="postgres")
    try:
        assert wait_until(lambda: cluster.sql("SHOW ssl", dbname="postgres") == "on", timeout=10)
        yield cluster
    finally:
        cluster.sql("ALTER SYSTEM RESET ssl", dbname="postgres")
        cluster.sql("ALTER SYSTEM RESET ssl_cert_file", dbname="postgres")
        cluster.sql("ALTER SYSTEM RESET ssl_key_file", dbname="postgres")
        cluster.sql("SELECT pg_reload_conf()", dbname="postgres")


def test_server_verify_full(proxy, certs, ssl_primary):
    p = proxy(server_tls_sslmode="verify-full", server_tls_ca_file=certs.ca_crt)
    assert p.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "t"
    if harness.PROXY_KIND == "pgrelay":
        assert any(v.startswith("TLSv1.") for v in tls_column(p, "SHOW SERVERS"))


def test_server_wrong_ca_is_never_used(proxy, certs, ssl_primary):
    # As in PgBouncer, the client waits for a server that can be used (a fixed CA would serve
    # it, see test_issue14_tls.py) until query_wait_timeout; the reason is in the log.
    p = proxy(server_tls_sslmode="verify-ca", server_tls_ca_file=certs.otherca_crt, query_wait_timeout=3)
    res = p.psql("SELECT 1", check=False)
    assert res.returncode != 0 and "query_wait_timeout" in res.stderr, res.stderr
    if harness.PROXY_KIND == "pgrelay":
        assert "TLS handshake with the server failed: certificate verify failed" in p.log_text(), p.log_text()


@pytest.mark.pgrelay_only("checks pgrelay's log line")
def test_server_require_never_downgrades(proxy, certs, cluster):
    # The replicas run without ssl: require must not fall back to plaintext...
    replica = f"host=127.0.0.1 port={cluster.replica_ports[0]} dbname=appdb"
    p = proxy(server_tls_sslmode="require", databases={"appdb": replica}, query_wait_timeout=3)
    res = p.psql("SELECT 1", check=False)
    assert res.returncode != 0 and "query_wait_timeout" in res.stderr, res.stderr
    assert "server does not support SSL, but server_tls_sslmode = require requires it" in p.log_text()
    # ...while prefer does.
    p2 = proxy(server_tls_sslmode="prefer", databases={"appdb": replica})
    assert p2.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "f"
