"""Issue 2: session pooling through the proxy — protocol, COPY, cancel, auth, robustness."""

import asyncio
import hashlib
import socket
import struct
import threading
import time

import psycopg
import pytest

import harness
import rawpg
from checks import PeakServerConnections, QueryLoop, assert_killed_client_leaves_nothing_open

pytestmark = pytest.mark.issue2


def test_psql_single_and_multi_statement(session_proxy):
    assert session_proxy.query("SELECT 1") == "1"
    out = session_proxy.query("SELECT 1; SELECT 'two'; SELECT 3 + 4")
    assert out.splitlines() == ["1", "two", "7"]
    out = session_proxy.query(
        "CREATE TEMP TABLE t_multi(x int); INSERT INTO t_multi SELECT generate_series(1, 5); "
        "SELECT sum(x) FROM t_multi")
    assert out.splitlines()[-1] == "15"


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_pgbench_session_mode(session_proxy, protocol):
    init = session_proxy.pgbench(["-i", "-s", "1", "-q"], timeout=60)
    assert init.returncode == 0, init.stderr
    run = session_proxy.pgbench(["-T", "5", "-c", "4", "-j", "2", "-M", protocol], timeout=60)
    assert run.returncode == 0, run.stderr + run.stdout
    processed, failed = harness.pgbench_counts(run.stdout)
    assert processed and processed > 0, run.stdout
    assert not failed, run.stdout
    # every transaction pgbench counted reached the database
    count = session_proxy.query("SELECT count(*) FROM pgbench_history")
    assert int(count) == processed


def test_copy_in_and_out_100k_rows_with_checksum(session_proxy):
    rows = [(i, f"row-{i}-{'x' * (i % 17)}") for i in range(1, 100_001)]
    expected = hashlib.md5("".join(f"{i}\t{v}\n" for i, v in rows).encode()).hexdigest()
    with session_proxy.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS copy_t")
        conn.execute("CREATE TABLE copy_t (id int PRIMARY KEY, v text NOT NULL)")
        with conn.cursor() as cur:
            with cur.copy("COPY copy_t (id, v) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        server_md5 = conn.execute(
            "SELECT count(*), md5(string_agg(id || E'\\t' || v || E'\\n', '' ORDER BY id)) FROM copy_t").fetchone()
        assert server_md5 == (100_000, expected)
        out = bytearray()
        with conn.cursor() as cur:
            with cur.copy("COPY (SELECT id, v FROM copy_t ORDER BY id) TO STDOUT") as copy:
                for chunk in copy:
                    out += chunk
        assert hashlib.md5(bytes(out)).hexdigest() == expected
        conn.execute("DROP TABLE copy_t")


def test_cancel_pg_sleep_within_2s(session_proxy):
    with session_proxy.connect() as conn:
        timer = threading.Timer(0.5, conn.cancel)
        start = time.monotonic()
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled) as exc:
            conn.execute("SELECT pg_sleep(30)")
        elapsed = time.monotonic() - start
        timer.join()
        assert exc.value.sqlstate == "57014"
        assert elapsed < 0.5 + 2.0, f"cancel took {elapsed:.2f}s"
        # the session goes on after the cancel
        assert conn.execute("SELECT 42").fetchone() == (42,)


def login_error(port, user, password, database):
    """The ErrorResponse fields a raw login gets (fails the test if the login succeeds)."""
    conn = rawpg.RawConnection(port)
    try:
        with pytest.raises(rawpg.ProtocolError) as exc:
            conn.login(user, password, database)
    finally:
        conn.close()
    return exc.value.args[0]


def test_wrong_password_is_28P01_with_postgres_message(session_proxy):
    fields = login_error(session_proxy.port, "app", "not-the-password", "appdb")
    res = session_proxy.psql("SELECT 1", password="wrong", check=False)
    assert res.returncode != 0
    if harness.PROXY_KIND == "pgrelay":
        assert fields["C"] == "28P01"
        assert fields["M"] == 'password authentication failed for user "app"'
        assert 'password authentication failed for user "app"' in res.stderr
    else:  # PgBouncer 1.18 answers 08P01 without the user name; the contract wants PostgreSQL's
        assert fields["C"] == "08P01" and "password authentication failed" in fields["M"]


def test_unknown_database_is_3D000(session_proxy):
    fields = login_error(session_proxy.port, "app", "app", "no_such_db")
    assert "no_such_db" in fields["M"]
    # PgBouncer 1.18 answers 08P01; the contract wants PostgreSQL's 3D000
    assert fields["C"] == ("3D000" if harness.PROXY_KIND == "pgrelay" else "08P01"), fields


def test_200_clients_over_pool_of_10(proxy, cluster):
    p = proxy(pool_mode="session", default_pool_size=10, query_wait_timeout=60)
    async def client(i):
        conn = await p.asyncpg_connect()
        try:
            return await conn.fetchval("SELECT $1::int * 2 FROM pg_sleep(0.02)", i)
        finally:
            await conn.close()

    async def main():
        return await asyncio.gather(*(client(i) for i in range(200)), return_exceptions=True)

    with PeakServerConnections(cluster) as watch:
        results = asyncio.run(asyncio.wait_for(main(), 70))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:5]
    assert results == [i * 2 for i in range(200)]
    assert watch.peak <= 10, f"{watch.peak} server connections for a pool of 10"


def test_client_killed_mid_transaction_leaves_no_open_transaction(session_proxy, cluster):
    assert_killed_client_leaves_nothing_open(session_proxy, cluster, "kill_session_t")


# name: (bytes, SQLSTATEs pgrelay may answer with). An unsupported protocol version may
# get PostgreSQL's own answer (0A000); malformed and oversized packets get 08P01.
BAD_STARTUPS = {
    "protocol version 0": (struct.pack("!II", 8, 0), {"08P01", "0A000"}),
    "http request": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", {"08P01"}),
    "oversized length": (struct.pack("!II", 0x7FFFFFF0, 3 << 16) + b"user\0app\0" * 100, {"08P01"}),
    "all ones": (b"\xff" * 4096, {"08P01"}),
    "too short": (struct.pack("!I", 3) + b"\0\0\0\0", {"08P01"}),
}


@pytest.mark.parametrize("name", sorted(BAD_STARTUPS))
def test_garbage_on_the_port_does_not_disturb_other_clients(session_proxy, name):
    loop = QueryLoop(session_proxy)
    loop.start()
    try:
        deadline = time.monotonic() + 20
        while loop.ok < 3 and not loop.errors and time.monotonic() < deadline:
            time.sleep(0.05)
        before = loop.ok
        raw = rawpg.RawConnection(session_proxy.port, timeout=5)
        try:
            packet, sqlstates = BAD_STARTUPS[name]
            raw.send(packet)
            reply = raw.read_until_closed()  # socket.timeout here means the proxy kept it open
        finally:
            raw.close()
        # The other client keeps being served after the garbage (however slow the machine is).
        deadline = time.monotonic() + 20
        while loop.ok < before + 10 and not loop.errors and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        loop.stop.set()
        loop.join(10)
    assert not loop.errors, loop.errors
    assert loop.ok >= before + 10, (before, loop.ok)
    if harness.PROXY_KIND == "pgrelay":
        assert reply[:1] == b"E", reply[:100]
        assert rawpg.error_fields(reply[5:]).get("C") in sqlstates, reply[:200]
    else:
        assert reply == b"" or reply[:1] == b"E", reply[:100]
    assert session_proxy.query("SELECT 'still fine'") == "still fine"


def test_garbage_after_login_gets_error_and_others_continue(session_proxy):
    loop = QueryLoop(session_proxy)
    loop.start()
    try:
        raw = rawpg.RawConnection(session_proxy.port, timeout=5)
        try:
            raw.login("app", "app", "appdb")
            raw.send(b"Q" + struct.pack("!I", 0x7FFFFFFF) + b"SELECT 1")  # oversized Query
            reply = raw.read_until_closed()
        finally:
            raw.close()
    finally:
        loop.stop.set()
        loop.join(10)
    assert not loop.errors, loop.errors
    if harness.PROXY_KIND == "pgrelay":
        assert reply[:1] == b"E" and b"C08P01\0" in reply, reply[:200]
    assert session_proxy.query("SELECT 1") == "1"


@pytest.mark.parametrize("user", ["app", "md5user", "scramuser"])
def test_plain_md5_and_scram_users_log_in(session_proxy, user):
    assert session_proxy.query("SELECT current_user", user=user) == user


def test_scram_auth_type_uses_scram_with_clients(proxy):
    p = proxy(pool_mode="session", auth_type="scram-sha-256")
    conn = rawpg.RawConnection(p.port)
    try:
        seen = conn.login("app", "app", "appdb")
        auth_codes = [struct.unpack("!I", payload[:4])[0] for tag, payload in seen if tag == b"R"]
        assert auth_codes[0] == 10, auth_codes  # AuthenticationSASL
        rows, error = conn.simple_query("SELECT current_user")
        assert error is None and rows == [["app"]]
    finally:
        conn.terminate()


def test_ssl_request_is_answered_N_then_login_works(session_proxy):
    conn = rawpg.RawConnection(session_proxy.port)
    try:
        conn.send(struct.pack("!II", 8, rawpg.SSL_REQUEST_CODE))
        assert conn.recv_exact(1) == b"N"
        conn.login("app", "app", "appdb")
        rows, error = conn.simple_query("SELECT 'plain text'")
        assert error is None and rows == [["plain text"]]
    finally:
        conn.terminate()


@pytest.mark.pgrelay_only("PgBouncer 1.18 rejects protocol 3.2 instead of negotiating")
def test_protocol_3_2_gets_negotiate_protocol_version(session_proxy):
    conn = rawpg.RawConnection(session_proxy.port)
    try:
        seen = conn.login("app", "app", "appdb", version=rawpg.PROTOCOL_3_2,
                          extra_params={"_pq_.some_option": "on"})
        tags = [tag for tag, _ in seen]
        assert tags[0] == b"v", tags
        payload = seen[0][1]
        newest_minor, n_unrecognized = struct.unpack("!II", payload[:8])
        assert newest_minor == 0
        assert n_unrecognized == 1 and b"_pq_.some_option" in payload
        rows, error = conn.simple_query("SELECT 32")
        assert error is None and rows == [["32"]]
    finally:
        conn.terminate()


def test_listen_notify_in_session_mode(session_proxy):
    with session_proxy.connect() as listener, session_proxy.connect() as sender:
        listener.execute("LISTEN pgrelay_chan")
        sender.execute("NOTIFY pgrelay_chan, 'hello from the other side'")
        got = list(listener.notifies(timeout=5, stop_after=1))
        assert [(n.channel, n.payload) for n in got] == [("pgrelay_chan", "hello from the other side")]


def test_notices_pass_through(session_proxy):
    notices = []
    with session_proxy.connect() as conn:
        conn.add_notice_handler(lambda d: notices.append((d.severity_nonlocalized, d.message_primary)))
        conn.execute("DO $$BEGIN RAISE NOTICE 'notice number %', 7; END$$")
    assert ("NOTICE", "notice number 7") in notices


def test_extra_float_digits_startup_parameter_is_accepted(session_proxy):
    conn = rawpg.RawConnection(session_proxy.port)
    try:
        conn.login("app", "app", "appdb", extra_params={"extra_float_digits": "3"})
        rows, error = conn.simple_query("SELECT 1")
        assert error is None and rows == [["1"]]
    finally:
        conn.terminate()


def test_unreachable_server_gives_clear_error(proxy):
    dead_port = harness.freeport.free_port()
    p = proxy(pool_mode="session", server_connect_timeout=3, query_wait_timeout=5,
              databases={"appdb": f"host=127.0.0.1 port={dead_port} dbname=appdb"})
    start = time.monotonic()
    res = p.psql("SELECT 1", check=False, timeout=30)
    assert res.returncode != 0
    assert time.monotonic() - start < 25
    assert res.stderr.strip(), "no error message for an unreachable server"
    sock = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    sock.close()
