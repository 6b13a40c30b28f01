"""Issue 16 (robustness): bytes a server sends after the ReadyForQuery that ends a client's last
request are not the client's.

Found by scripts/soak: a server shutting down sends its FATAL 57P01 right after the
ReadyForQuery of a read; when both arrived in one read, pgrelay relayed the FATAL with the
answer, and the client found it as the answer to its next statement (a transaction on the
primary failed although the primary was fine). A fake server makes that read deterministic: it
answers one query with its ReadyForQuery and a FATAL in a single send. libpq happens to take an
error that arrives while it is idle as a notice; a client that reads the next message as the
answer to its next request (the soak's, asyncpg's and JDBC's way) fails, so the test speaks the
protocol itself.
"""

import socket
import struct
import threading

import pytest

import harness
import rawpg
from checks import wait_until

STRAY_QUERY = "SELECT 'then stray bytes'"


def message(kind, body=b""):
    return kind + struct.pack("!I", len(body) + 4) + body


def error_fields(severity, code, text):
    return (b"S" + severity + b"\0V" + severity + b"\0C" + code + b"\0M" + text + b"\0\0")


def ready(status=b"I"):
    return message(b"Z", status)


def one_row_answer(value):
    row_description = message(b"T", struct.pack("!H", 1) + b"v\0" + struct.pack("!IHIhih", 0, 0, 25, -1, -1, 0))
    data_row = message(b"D", struct.pack("!HI", 1, len(value)) + value)
    return row_description + data_row + message(b"C", b"SELECT 1\0")


class FakeServer:
    """A PostgreSQL stand-in on 127.0.0.1: trusts every login, answers any Query with one row,
    and answers STRAY_QUERY with its result, ReadyForQuery and a FATAL in one send, then closes."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.stray_sent = 0
        self.stop = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while not self.stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    @staticmethod
    def read_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def serve(self, conn):
        try:
            length = struct.unpack("!I", self.read_exact(conn, 4))[0]
            self.read_exact(conn, length - 4)  # the startup packet (pgrelay does not ask for TLS here)
            welcome = message(b"R", struct.pack("!I", 0))
            for name, value in ((b"server_version", b"15.0"), (b"client_encoding", b"UTF8"),
                                (b"standard_conforming_strings", b"on"), (b"DateStyle", b"ISO, MDY"),
                                (b"TimeZone", b"UTC"), (b"integer_datetimes", b"on")):
                welcome += message(b"S", name + b"\0" + value + b"\0")
            conn.sendall(welcome + message(b"K", struct.pack("!II", 4242, 99)) + ready())
            while True:
                kind = self.read_exact(conn, 1)
                length = struct.unpack("!I", self.read_exact(conn, 4))[0]
                body = self.read_exact(conn, length - 4)
                if kind == b"X":
                    return
                if kind != b"Q":
                    continue
                sql = body.rstrip(b"\0").decode()
                if sql == STRAY_QUERY:
                    fatal = message(b"E", error_fields(b"FATAL", b"57P01", b"terminating connection due to administrator command"))
                    conn.sendall(one_row_answer(b"answer") + ready() + fatal)
                    self.stray_sent += 1
                    return
                conn.sendall(one_row_answer(b"fine") + ready())
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def close(self):
        self.stop = True
        self.listener.close()


@pytest.fixture
def fake_server():
    server = FakeServer()
    yield server
    server.close()


@pytest.mark.pgrelay_only("the fake server trusts every login; the reference PgBouncer relays the bytes too")
@pytest.mark.parametrize("pool_mode", ["transaction", "statement"])
def test_server_fatal_after_the_last_ready_for_query_does_not_reach_the_client(proxy, fake_server, pool_mode):
    p = proxy(pool_mode=pool_mode, databases={"fakedb": f"host=127.0.0.1 port={fake_server.port} dbname=fake user=app"})
    conn = rawpg.RawConnection(p.port)
    conn.login("app", harness.PASSWORDS["app"], "fakedb")
    for _ in range(3):
        assert conn.simple_query(STRAY_QUERY) == ([["answer"]], None)
        # The next statement gets its own answer, not the first server's FATAL.
        assert conn.simple_query("SELECT 'next'") == ([["fine"]], None)
    conn.terminate()
    assert fake_server.stray_sent == 3
    assert wait_until(lambda: "server sent bytes after the ReadyForQuery that ended the client's requests" in p.log_text(), 5)
    assert "sqlstate=57P01" in p.log_text() or '"sqlstate":"57P01"' in p.log_text()
    assert "administrator command" not in p.log_text().split("server sent bytes after")[1].split("\n")[0]
