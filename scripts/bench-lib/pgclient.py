"""A minimal asyncio PostgreSQL client: log in (trust, cleartext, md5, SCRAM-SHA-256), run
simple queries, stay idle. Standard library only; enough to hold thousands of idle client
connections against a proxy and to check that every one of them is served."""

import asyncio
import base64
import hashlib
import hmac
import os
import struct

PROTOCOL_V3 = 196608
MAX_MESSAGE = 1 << 20


class PgError(Exception):
    """An ErrorResponse from the server, or a protocol problem."""


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _error_text(body: bytes) -> str:
    for field in body.split(b"\0"):
        if field[:1] == b"M":
            return field[1:].decode(errors="replace")
    return "error response"


class _Scram:
    """Client side of SCRAM-SHA-256 without channel binding (RFC 5802 / 7677)."""

    _salted_cache = {}

    def __init__(self, password: str):
        self.password = password
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = "n=,r=" + self.nonce
        self.salted = None
        self.auth_message = None

    def initial(self) -> bytes:
        data = ("n,," + self.first_bare).encode()
        return b"SCRAM-SHA-256\0" + struct.pack("!I", len(data)) + data

    def final(self, server_first: str) -> bytes:
        attrs = dict(item.split("=", 1) for item in server_first.split(",") if "=" in item)
        if not attrs.get("r", "").startswith(self.nonce):
            raise PgError("SCRAM: server nonce does not extend ours")
        salt, rounds = base64.b64decode(attrs["s"]), int(attrs["i"])
        key = (self.password, salt, rounds)
        if key not in self._salted_cache:  # one PBKDF2 per distinct secret, not per connection
            self._salted_cache[key] = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, rounds)
        self.salted = self._salted_cache[key]
        client_key = hmac.new(self.salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        self.auth_message = ",".join([self.first_bare, server_first, without_proof]).encode()
        signature = hmac.new(stored_key, self.auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    def verify(self, server_final: str):
        server_key = hmac.new(self.salted, b"Server Key", hashlib.sha256).digest()
        expected = hmac.new(server_key, self.auth_message, hashlib.sha256).digest()
        if server_final != "v=" + base64.b64encode(expected).decode():
            raise PgError("SCRAM: server signature does not match")


class Connection:
    """One logged-in connection."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    async def _read(self):
        header = await self.reader.readexactly(5)
        length = struct.unpack("!I", header[1:])[0]
        if length < 4 or length > MAX_MESSAGE:
            raise PgError(f"bad message length {length}")
        return header[:1], await self.reader.readexactly(length - 4)

    async def _login(self, user: str, password: str, database: str):
        params = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in
                          [("user", user), ("database", database), ("application_name", "pgrelay-bench")])
        params += b"\0"
        self.writer.write(struct.pack("!II", len(params) + 8, PROTOCOL_V3) + params)
        scram = None
        while True:
            kind, body = await self._read()
            if kind == b"E":
                raise PgError(_error_text(body))
            if kind == b"Z":
                return
            if kind != b"R":
                continue
            code = struct.unpack("!I", body[:4])[0]
            if code == 0:
                continue
            if code == 3:
                self.writer.write(_message(b"p", password.encode() + b"\0"))
            elif code == 5:
                inner = hashlib.md5((password + user).encode()).hexdigest().encode()
                digest = hashlib.md5(inner + body[4:8]).hexdigest().encode()
                self.writer.write(_message(b"p", b"md5" + digest + b"\0"))
            elif code == 10:
                if b"SCRAM-SHA-256" not in body[4:].split(b"\0"):
                    raise PgError("server offers no SCRAM-SHA-256")
                scram = _Scram(password)
                self.writer.write(_message(b"p", scram.initial()))
            elif code == 11 and scram:
                self.writer.write(_message(b"p", scram.final(body[4:].decode())))
            elif code == 12 and scram:
                scram.verify(body[4:].decode())
                continue
            else:
                raise PgError(f"unsupported authentication request {code}")
            await self.writer.drain()

    async def query(self, sql: str):
        """Runs a simple query; raises PgError on an ErrorResponse."""
        self.writer.write(_message(b"Q", sql.encode() + b"\0"))
        await self.writer.drain()
        failure = None
        while True:
            kind, body = await self._read()
            if kind == b"E":
                failure = _error_text(body)
            elif kind == b"Z":
                if failure:
                    raise PgError(failure)
                return

    def close(self):
        try:
            self.writer.write(_message(b"X", b""))
            self.writer.close()
        except Exception:  # closing is best effort
            pass


async def connect(host, port, user, password, database, timeout=60.0) -> Connection:
    """Opens a connection and completes the login (through ReadyForQuery)."""
    async def run():
        reader, writer = await asyncio.open_connection(host, port)
        conn = Connection(reader, writer)
        try:
            await conn._login(user, password, database)
        except BaseException:
            conn.close()
            raise
        return conn
    return await asyncio.wait_for(run(), timeout)


async def open_many(count, concurrency, **target):
    """Opens `count` connections, at most `concurrency` logins at a time.
    Returns (connections, {error text: count})."""
    gate = asyncio.Semaphore(concurrency)
    conns, errors = [], {}

    async def one():
        async with gate:
            try:
                conns.append(await connect(**target))
            except Exception as exc:  # count and go on: the report shows every failure
                text = (str(exc) or type(exc).__name__)[:120]
                errors[text] = errors.get(text, 0) + 1

    await asyncio.gather(*(one() for _ in range(count)))
    return conns, errors


async def query_all(conns, sql, concurrency):
    """Runs `sql` once on every connection; returns (succeeded, {error text: count})."""
    gate = asyncio.Semaphore(concurrency)
    ok, errors = 0, {}

    async def one(conn):
        nonlocal ok
        async with gate:
            try:
                await asyncio.wait_for(conn.query(sql), 120)
                ok += 1
            except Exception as exc:
                text = (str(exc) or type(exc).__name__)[:120]
                errors[text] = errors.get(text, 0) + 1

    await asyncio.gather(*(one(c) for c in conns))
    return ok, errors
