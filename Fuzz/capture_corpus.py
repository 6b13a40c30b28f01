#!/usr/bin/env python3
"""Records real client sessions against PostgreSQL and turns them into seed corpora.

    scripts/pg-cluster up /tmp/pgc
    eval "$(scripts/pg-cluster env /tmp/pgc)"
    .venv/bin/python Fuzz/capture_corpus.py --pg-port "$PGPORT" --out Fuzz/Corpus

A small relay on a free port forwards every connection to the primary and keeps both byte
streams. Through it run psql (simple and extended protocol, COPY, errors, SSLRequest refused by
the server), pgbench (-i, simple/extended/prepared), psycopg 3 (server-side parameters,
executemany, COPY, cancel), asyncpg (prepared statements, type introspection, COPY) and JDBC
(tests/integration/jdbc/PreparedTen.java, named server-side statements). The streams are then
cut into the protocol's messages and written, deduplicated and small, as corpus files of the
fuzz targets (one file per input, named by a hash of its content).
"""

import argparse
import asyncio
import hashlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts", "lib"))

MAX_INPUT = 4096          # bytes per corpus file
MAX_PER_TYPE = 12         # samples of one message type per target (DataRows are plenty)
SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102


# ---- the relay ----------------------------------------------------------------------------
class Relay:
    """Forwards connections to host:port and records (client bytes, server bytes) per connection."""

    def __init__(self, host, port):
        self.upstream = (host, port)
        self.sessions = []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            record = {"client": bytearray(), "server": bytearray()}
            with self.lock:
                self.sessions.append(record)
            for src, dst, key in ((client, server, "client"), (server, client, "server")):
                threading.Thread(target=self._pump, args=(src, dst, record[key]), daemon=True).start()

    @staticmethod
    def _pump(src, dst, sink):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                sink.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        for sock in (dst, src):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()


# ---- the sessions -------------------------------------------------------------------------
def run_sessions(port):
    env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(port), PGUSER="app", PGPASSWORD="app",
               PGDATABASE="appdb", PGSSLMODE="disable", PGGSSENCMODE="disable")

    def sh(*argv, extra=None, check=True):
        res = subprocess.run(argv, env=dict(env, **(extra or {})), capture_output=True, text=True, timeout=120)
        if check and res.returncode != 0:
            raise RuntimeError(f"{argv}: {res.stderr}")
        return res

    # psql: simple protocol, catalog queries of \d, COPY both ways, an error with a literal
    script = (
        "CREATE TABLE IF NOT EXISTS fuzz_seed (id int PRIMARY KEY, name text, payload jsonb);\n"
        "TRUNCATE fuzz_seed;\n"
        "INSERT INTO fuzz_seed VALUES (1, 'it''s', '{\"a\": [1, 2.5e3]}'), (2, E'tab\\there', NULL);\n"
        "SELECT id, name, payload->>'a' FROM fuzz_seed WHERE id IN (1, 2, 3) AND name LIKE $$it%$$;\n"
        "\\d fuzz_seed\n"
        "\\copy fuzz_seed (id, name) TO STDOUT\n"
        "BEGIN; SET LOCAL statement_timeout = '5s'; SELECT now() - interval '1 day'; COMMIT;\n"
        "SELECT 1/0;\n"
        "SELECT * FROM no_such_table WHERE secret = 'hunter2';\n"
        "COPY fuzz_seed (id, name) FROM STDIN;\n3\tthree\n4\tfour\n\\.\n"
        "SELECT 'a' || 'b', B'1010', X'1F', U&'d\\0061t\\+000061', -1.5e-3, 0x1F, 1_000;\n"
        "PREPARE p1(int) AS SELECT $1 + 1; EXECUTE p1(41); DEALLOCATE p1;\n"
        "LISTEN fuzz_channel; NOTIFY fuzz_channel, 'payload'; UNLISTEN *;\n"
        "DO $body$ BEGIN RAISE NOTICE 'notice %', 42; END $body$;\n"
        "SELECT pg_sleep(0);\n"
    )
    sh("psql", "-X", "-v", "ON_ERROR_STOP=0", "-c", "SELECT version()", check=True)
    subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=0"], input=script, env=env, capture_output=True,
                   text=True, timeout=120)
    # an SSLRequest the server refuses ('N'), then the startup
    sh("psql", "-X", "-c", "SELECT 2", extra={"PGSSLMODE": "prefer"})
    # md5 authentication
    sh("psql", "-X", "-c", "SELECT current_user", extra={"PGUSER": "md5user", "PGPASSWORD": "md5pass"})
    # a wrong password
    sh("psql", "-X", "-c", "SELECT 1", extra={"PGPASSWORD": "wrong"}, check=False)
    # a cancel: psql sends a CancelRequest on a connection of its own when interrupted
    subprocess.run(["timeout", "-s", "INT", "1", "psql", "-X", "-c", "SELECT pg_sleep(3)"], env=env,
                   capture_output=True, timeout=30)
    # pgbench: COPY of the initial data, then the three query modes
    sh("pgbench", "-i", "-s", "1", "-q", "--no-vacuum")
    for mode in ("simple", "extended", "prepared"):
        sh("pgbench", "-n", "-t", "5", "-M", mode)
    sh("pgbench", "-n", "-t", "5", "-S", "-M", "prepared")
    python_sessions(port)
    jdbc_session(port)


def python_sessions(port):
    import psycopg
    import asyncpg

    dsn = f"host=127.0.0.1 port={port} user=app password=app dbname=appdb sslmode=disable"
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT %s::int + %s, %s::text", (1, 2, "psycopg"))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO fuzz_seed (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            [(10, "ten"), (11, "eleven")])
            cur.execute("SELECT id, name FROM fuzz_seed WHERE id = ANY(%s)", ([10, 11],))
            cur.fetchall()
            with cur.copy("COPY fuzz_seed (id, name) FROM STDIN") as copy:
                copy.write_row((20, "twenty"))
            with cur.copy("COPY (SELECT id, name FROM fuzz_seed ORDER BY id) TO STDOUT") as copy:
                for _ in copy:
                    pass
        conn.commit()
        try:
            conn.execute("SELECT * FROM fuzz_seed WHERE name = %s AND id = 'x'", ("secret",))
        except psycopg.Error:
            conn.rollback()
        with conn.cursor(name="server_side") as cur:
            cur.execute("SELECT generate_series(1, 20)")
            cur.fetchmany(5)
        conn.rollback()
        conn.execute("PREPARE named_ps AS SELECT 1")
        conn.execute("DEALLOCATE named_ps")
        conn.commit()
    with psycopg.connect(dsn, prepare_threshold=0) as conn:
        for i in range(2):
            conn.execute("SELECT %s::int * 2", (i,))

    async def asyncpg_session():
        conn = await asyncpg.connect(host="127.0.0.1", port=port, user="app", password="app",
                                     database="appdb", ssl=False)
        await conn.execute("DROP TYPE IF EXISTS fuzz_mood; CREATE TYPE fuzz_mood AS ENUM ('sad', 'ok')")
        await conn.fetch("SELECT $1::fuzz_mood, $2::int[], $3::numeric", "ok", [1, 2], 1.5)
        stmt = await conn.prepare("SELECT id, name FROM fuzz_seed WHERE id > $1 ORDER BY id LIMIT $2")
        await stmt.fetch(0, 3)
        await conn.copy_records_to_table("fuzz_seed", records=[(30, "thirty")], columns=["id", "name"])
        async with conn.transaction():
            await conn.execute("UPDATE fuzz_seed SET name = $1 WHERE id = $2", "x", 30)
        try:
            await conn.fetch("SELECT $1::int", "not a number")
        except (asyncpg.PostgresError, asyncpg.DataError):
            pass
        await conn.close()

    asyncio.run(asyncpg_session())


def jdbc_session(port):
    jar = "/usr/share/java/postgresql.jar"
    if not os.path.exists(jar):
        print("capture: no JDBC driver, skipping JDBC", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as classes:
        src = os.path.join(REPO, "tests", "integration", "jdbc", "PreparedTen.java")
        subprocess.run(["javac", "-cp", jar, "-d", classes, src], check=True, timeout=120)
        url = f"jdbc:postgresql://127.0.0.1:{port}/appdb?user=app&password=app&sslmode=disable&prepareThreshold=1"
        subprocess.run(["java", "-cp", f"{classes}:{jar}", "PreparedTen", url], check=True, timeout=120,
                       capture_output=True)


# ---- cutting streams into messages --------------------------------------------------------
def untyped_packets(stream):
    """Leading untyped packets (SSLRequest, GSSENCRequest, CancelRequest, StartupMessage) and the rest."""
    packets, pos = [], 0
    while pos + 8 <= len(stream):
        length, code = struct.unpack("!ii", stream[pos:pos + 8])
        if length < 8 or pos + length > len(stream):
            break
        packets.append(bytes(stream[pos:pos + length]))
        pos += length
        if code not in (SSL_REQUEST, GSSENC_REQUEST):
            break  # a StartupMessage or CancelRequest ends the untyped part
    return packets, stream[pos:]


def typed_frames(stream):
    frames, pos = [], 0
    while pos + 5 <= len(stream):
        length = struct.unpack("!i", stream[pos + 1:pos + 5])[0]
        if length < 4 or pos + 1 + length > len(stream):
            break
        frames.append(bytes(stream[pos:pos + 1 + length]))
        pos += 1 + length
    return frames


def split_session(record):
    packets, client_rest = untyped_packets(record["client"])
    server = bytes(record["server"])
    # one answer byte ('N') per SSLRequest/GSSENCRequest the server refused
    requests = sum(1 for p in packets if struct.unpack("!i", p[4:8])[0] in (SSL_REQUEST, GSSENC_REQUEST))
    if server[:requests] != b"N" * requests:
        return packets, [], []  # TLS or GSS followed: nothing more to read
    return packets, typed_frames(client_rest), typed_frames(server[requests:])


def scram_seeds(client_frames, server_frames):
    """client-first NUL client-final NUL server-first NUL server-final, as captured, and with the
    combined nonce and the proof replaced by the fuzz target's %n and %p."""
    sasl_server = [f for f in server_frames if f[0:1] == b"R" and struct.unpack("!i", f[5:9])[0] in (11, 12)]
    passwords = [f for f in client_frames if f[0:1] == b"p"]
    if len(sasl_server) < 2 or len(passwords) < 2:
        return []
    initial = passwords[0][5:]
    mechanism_end = initial.index(b"\0")
    client_first = initial[mechanism_end + 5:]
    client_final = passwords[1][5:]
    server_first, server_final = sasl_server[0][9:], sasl_server[1][9:]
    parts = dict(p.split(b"=", 1) for p in client_final.split(b",") if b"=" in p)
    templated = client_final.replace(parts.get(b"r", b"\x00"), b"%n").replace(b"p=" + parts.get(b"p", b"\x00"), b"p=%p")
    return [b"\0".join([client_first, client_final, server_first, server_final]),
            b"\0".join([client_first, templated, server_first, server_final])]


class Corpus:
    def __init__(self, root):
        self.root = root
        self.per_type = {}

    def add(self, target, data, kind=None):
        if not data or len(data) > MAX_INPUT:
            return
        if kind is not None:
            key = (target, kind)
            if self.per_type.get(key, 0) >= MAX_PER_TYPE:
                return
            self.per_type[key] = self.per_type.get(key, 0) + 1
        folder = os.path.join(self.root, target)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)


def write_corpora(sessions, out):
    corpus = Corpus(out)
    for record in sessions:
        packets, client, server = split_session(record)
        for packet in packets:
            corpus.add("FuzzStartupPacket", packet)
        corpus.add("FuzzStartupPacket", b"".join(packets))
        for frame in client:
            corpus.add("FuzzFrontendMessage", frame, kind=frame[0])
            if frame[0:1] in (b"P", b"B", b"D", b"C"):
                corpus.add("FuzzStatementNamePeek", frame[0:1] + frame[5:], kind=frame[0])
            if frame[0:1] == b"Q":
                corpus.add("FuzzSQL", frame[5:-1])
            if frame[0:1] == b"P":
                name_end = frame.index(b"\0", 5)
                corpus.add("FuzzSQL", frame[name_end + 1:frame.index(b"\0", name_end + 1)])
        corpus.add("FuzzFrontendMessage", b"".join(client)[:MAX_INPUT])
        for frame in server:
            corpus.add("FuzzBackendMessage", frame, kind=frame[0])
        corpus.add("FuzzBackendMessage", b"".join(server)[:MAX_INPUT])
        for seed in scram_seeds(client, server):
            corpus.add("FuzzSCRAM", seed)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--out", default=os.path.join(REPO, "Fuzz", "Corpus"))
    args = parser.parse_args()
    relay = Relay(args.pg_host, args.pg_port)
    try:
        run_sessions(relay.port)
    finally:
        relay.close()
    time.sleep(0.5)  # let the pumps see the last closes
    with relay.lock:
        sessions = list(relay.sessions)
    write_corpora(sessions, args.out)
    for target in sorted(os.listdir(args.out)):
        folder = os.path.join(args.out, target)
        files = os.listdir(folder)
        print(f"{target}: {len(files)} files, {sum(os.path.getsize(os.path.join(folder, f)) for f in files)} bytes")


if __name__ == "__main__":
    main()
