"""A throw-away CA and a server certificate for 127.0.0.1/localhost, made with openssl, for the
TLS workload of scripts/bench (PostgreSQL, PgBouncer and pgrelay all present the same one)."""

import os
import pwd
import subprocess

from servers import os_user_for_servers


def _openssl(*args, cwd):
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {res.stderr.strip()}")


def make(directory):
    """Writes ca.crt, server.crt and server.key (P-256 ECDSA) into `directory`; returns
    (cert, key) paths, owned by the servers' OS user when running as root."""
    os.makedirs(directory, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench-ca",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
             cwd=directory)
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "server.ext", "-out", "server.crt", cwd=directory)
    cert, key = os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")
    os.chmod(key, 0o600)
    user = os_user_for_servers()
    if user:
        pw = pwd.getpwnam(user)
        for path in (directory, cert, key):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    return cert, key
