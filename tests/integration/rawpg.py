"""A tiny PostgreSQL v3 wire client over a raw socket, for what drivers will not send.

Used by tests that need exact bytes: SSLRequest, protocol 3.2 startup,
garbage and oversized packets.
"""

import base64
import hashlib
import hmac
import os
import socket
import struct

SSL_REQUEST_CODE = 80877103
PROTOCOL_3_0 = 3 << 16
PROTOCOL_3_2 = (3 << 16) | 2


class ProtocolError(Exception):
    pass


def startup_packet(params, version=PROTOCOL_3_0):
    body = struct.pack("!I", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def message(tag, payload=b""):
    return tag + struct.pack("!I", len(payload) + 4) + payload


def error_fields(payload):
    """Fields of an ErrorResponse/NoticeResponse body: {'C': sqlstate, 'M': message, ...}."""
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


class RawConnection:
    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by peer")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_message(self):
        """(tag byte, payload)."""
        tag = self.recv_exact(1)
        (length,) = struct.unpack("!I", self.recv_exact(4))
        if length < 4 or length > 16 * 1024 * 1024:
            raise ProtocolError(f"bad length {length} for message {tag!r}")
        return tag, self.recv_exact(length - 4)

    def read_until_closed(self, limit=1 << 20):
        """Everything the peer sends until it closes (bounded); b'' if closed at once."""
        data = self.buf
        self.buf = b""
        try:
            while len(data) < limit:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        return data

    # ---- login ------------------------------------------------------------
    def login(self, user, password, database, version=PROTOCOL_3_0, extra_params=None):
        """Send a StartupMessage and authenticate; returns the messages seen before ReadyForQuery."""
        params = {"user": user, "database": database}
        params.update(extra_params or {})
        self.send(startup_packet(params, version))
        return self.authenticate(user, password)

    def authenticate(self, user, password):
        seen = []
        scram = None
        while True:
            tag, payload = self.read_message()
            seen.append((tag, payload))
            if tag == b"E":
                raise ProtocolError(error_fields(payload))
            if tag == b"Z":
                return seen
            if tag != b"R":
                continue
            (code,) = struct.unpack("!I", payload[:4])
            if code == 3:  # cleartext
                self.send(message(b"p", password.encode() + b"\0"))
            elif code == 5:  # md5
                inner = hashlib.md5(password.encode() + user.encode()).hexdigest()
                outer = hashlib.md5(inner.encode() + payload[4:8]).hexdigest()
                self.send(message(b"p", b"md5" + outer.encode() + b"\0"))
            elif code == 10:  # SASL
                scram = ScramClient(password)
                first = scram.client_first()
                mech = b"SCRAM-SHA-256\0"
                self.send(message(b"p", mech + struct.pack("!I", len(first)) + first))
            elif code == 11:
                self.send(message(b"p", scram.client_final(payload[4:])))
            elif code == 12:
                scram.verify(payload[4:])
            elif code != 0:
                raise ProtocolError(f"unsupported auth request {code}")

    def simple_query(self, sql):
        """Run a Query; returns (rows as lists of str, error fields or None)."""
        self.send(message(b"Q", sql.encode() + b"\0"))
        rows, error = [], None
        while True:
            tag, payload = self.read_message()
            if tag == b"D":
                (n,) = struct.unpack("!H", payload[:2])
                pos, row = 2, []
                for _ in range(n):
                    (ln,) = struct.unpack("!i", payload[pos:pos + 4])
                    pos += 4
                    row.append(None if ln < 0 else payload[pos:pos + ln].decode())
                    pos += max(ln, 0)
                rows.append(row)
            elif tag == b"E":
                error = error_fields(payload)
            elif tag == b"Z":
                return rows, error

    def terminate(self):
        try:
            self.send(message(b"X"))
        finally:
            self.close()


class ScramClient:
    """Client side of SCRAM-SHA-256 (RFC 5802/7677), without channel binding."""

    def __init__(self, password):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"
        self.server_signature = None

    def client_first(self):
        return ("n,," + self.first_bare).encode()

    def client_final(self, server_first):
        text = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in text.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise ProtocolError("SCRAM nonce mismatch")
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        final_bare = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.first_bare},{text},{final_bare}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return f"{final_bare},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final):
        attrs = dict(kv.split("=", 1) for kv in server_final.decode().split(","))
        if base64.b64decode(attrs.get("v", "")) != self.server_signature:
            raise ProtocolError("SCRAM server signature mismatch")
