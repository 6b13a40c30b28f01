"""Issue 9: PgBouncer and pgrelay started on the same pgbouncer.ini answer the console alike.

Debian's PgBouncer (1.18) is the reference. pgrelay sends PgBouncer 1.25.2's columns, so
every 1.18 column must appear in pgrelay's table in the same relative order, and pgrelay's
other columns must be exactly what PgBouncer added between 1.18 and 1.25.2
(`pgbouncer_columns.ADDED_SINCE_1_18`) plus the legacy columns old exporters read.
"""

import os
import time
import re
import shutil
import tempfile
from dataclasses import dataclass, field

import psycopg
import pytest
from psycopg import pq

import conftest
import harness
from pgbouncer_columns import (ADDED_SINCE_1_18, LEGACY_COLUMNS, PGBOUNCER_1_25_COLUMNS, PGRELAY_COLUMNS,
                               RENAMED_SINCE_1_18, SHOW_COMMANDS_ADDED_SINCE_1_18)

pytestmark = [
    pytest.mark.issue9,
    pytest.mark.pgrelay_only("starts pgrelay and PgBouncer side by side"),
    pytest.mark.skipif(not os.access(harness.PGBOUNCER_BIN, os.X_OK), reason="Debian's pgbouncer is not installed"),
]

SHOW_COMMANDS = [
    "POOLS", "CLIENTS", "SERVERS", "DATABASES", "USERS", "STATS", "STATS_TOTALS", "STATS_AVERAGES", "TOTALS",
    "LISTS", "CONFIG", "MEM", "FDS", "VERSION", "STATE", "SOCKETS", "ACTIVE_SOCKETS", "DNS_HOSTS", "DNS_ZONES",
    "PEERS", "PEER_POOLS",
]


class SameIni(harness.Proxy):
    """A proxy that reads the ini below, written for PgBouncer. The pgrelay copy differs in its
    ports and paths only: its own listen port, socket folder, logfile, pidfile, and admin_port
    (pgrelay's HTTP API, whose default 6433 may be taken on a shared machine)."""

    def config_text(self):
        p = self.cluster.primary_port
        text = f"""\
;; pgbouncer.ini for a primary, with a Unix socket, logfile, pidfile and auth_user
[databases]
appdb = host=127.0.0.1 port={p} dbname=appdb
postgres = host=127.0.0.1 port={p} dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir = {self.socket_dir}
logfile = {self.dir}/logfile.log
pidfile = {self.dir}/pgbouncer.pid
auth_type = md5
auth_file = {self.userlist_path}
auth_user = admin
admin_users = admin
stats_users = stats
pool_mode = session
default_pool_size = 10
max_client_conn = 100
ignore_startup_parameters = extra_float_digits
"""
        if self.kind == "pgrelay":
            text += f"admin_port = {self.admin_port}\n"
        return text

    @property
    def logfile(self):
        return os.path.join(self.dir, "logfile.log")

    @property
    def pidfile(self):
        return os.path.join(self.dir, "pgbouncer.pid")


@pytest.fixture(scope="module")
def pair(cluster, workdir):
    """(pgbouncer, pgrelay), both running on the same ini, with a client having run a query."""
    started = []
    try:
        for kind in ("pgbouncer", "pgrelay"):
            d = tempfile.mkdtemp(prefix=f"same-ini-{kind}-", dir=workdir)
            os.chmod(d, 0o755)
            p = SameIni(kind, d, cluster, {}, {}, conftest.proxy_users(cluster))
            started.append(p)
            p.start()
            p.query("SELECT 1")  # pools, servers and stats get rows
        yield tuple(started)
    finally:
        for p in started:
            p.stop()


@dataclass
class Answer:
    """What the console sent for one command."""
    ok: bool
    tag: str = ""
    sqlstate: str = ""
    columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    notices: list = field(default_factory=list)


class Console:
    """One console connection (simple protocol) that records everything a command returns."""

    def __init__(self, proxy, user="admin"):
        self.conn = psycopg.connect(proxy.dsn(user, "pgbouncer"), autocommit=True)
        self.notices = []
        self.conn.add_notice_handler(lambda d: self.notices.append((d.message_primary, d.message_detail)))

    def run(self, command):
        self.notices.clear()
        res = self.conn.pgconn.exec_(command.encode())
        if res.status == pq.ExecStatus.FATAL_ERROR:
            return Answer(False, sqlstate=res.error_field(pq.DiagnosticField.SQLSTATE).decode())
        cols = [res.fname(i).decode() for i in range(res.nfields)]
        rows = [[None if res.get_value(r, c) is None else res.get_value(r, c).decode() for c in range(res.nfields)]
                for r in range(res.ntuples)]
        return Answer(True, (res.command_status or b"").decode(), "", cols, rows, list(self.notices))

    def close(self):
        self.conn.close()


@pytest.fixture
def consoles(pair):
    ref, ours = (Console(p) for p in pair)
    yield ref, ours
    ref.close()
    ours.close()


def is_subsequence(part, whole):
    it = iter(whole)
    return all(x in it for x in part)


def normalized(p):
    """The ini text with this proxy's ports and paths replaced by placeholders."""
    text = p.config_text()
    for value, name in ((p.dir, "DIR"), (p.userlist_path, "USERLIST"), (p.socket_dir, "SOCKDIR"),
                        (str(p.admin_port), "ADMIN_PORT"), (str(p.port), "PORT")):
        text = text.replace(value, name)
    return text


# ---- the same ini --------------------------------------------------------------------------------

def test_both_run_on_the_same_ini(pair):
    ref, ours = pair
    assert normalized(ours) == normalized(ref) + "admin_port = ADMIN_PORT\n"
    for p in pair:
        # The pidfile is written once the sockets listen (it tells -d's parent that the start
        # worked), so it may appear a moment after the port opens.
        deadline = time.monotonic() + 10
        while not os.path.exists(p.pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(p.pidfile) as f:
            assert int(f.read().strip()) == p.pid, f"{p.kind}: pidfile"
        assert os.path.getsize(p.logfile) > 0, f"{p.kind}: logfile"
        assert os.path.exists(os.path.join(p.socket_dir, f".s.PGSQL.{p.port}")), f"{p.kind}: Unix socket"


# ---- columns -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SHOW_COMMANDS)
def test_show_columns_match_pgbouncer(consoles, name):
    ref_console, our_console = consoles
    command = f"SHOW {name}"
    ours = our_console.run(command)
    assert ours.ok, f"pgrelay refused {command} (SQLSTATE {ours.sqlstate})"
    assert ours.tag == "SHOW"
    # exactly PgBouncer 1.25.2's columns, then the legacy columns old exporters read, then ours
    assert ours.columns == PGBOUNCER_1_25_COLUMNS[name] + LEGACY_COLUMNS.get(name, []) + PGRELAY_COLUMNS.get(name, []), command

    ref = ref_console.run(command)
    if not ref.ok:
        assert name in SHOW_COMMANDS_ADDED_SINCE_1_18, f"PgBouncer 1.18 refused {command} ({ref.sqlstate})"
        return
    assert name not in SHOW_COMMANDS_ADDED_SINCE_1_18, f"PgBouncer 1.18 answers {command}: update the list"
    assert ref.tag == "SHOW"
    renamed = RENAMED_SINCE_1_18.get(name, {})
    ref_columns = [renamed.get(c, c) for c in ref.columns]
    # every 1.18 column, in the same relative order ...
    assert is_subsequence(ref_columns, ours.columns), f"{command}: 1.18 {ref.columns} vs pgrelay {ours.columns}"
    # ... and nothing else but the known additions since 1.18 and the legacy columns
    extra = [c for c in ours.columns if c not in ref_columns]
    expected_extra = [c for c in PGBOUNCER_1_25_COLUMNS[name] if c in ADDED_SINCE_1_18.get(name, [])]
    assert extra == expected_extra + LEGACY_COLUMNS.get(name, []) + PGRELAY_COLUMNS.get(name, []), command
    # the renamed columns are kept under their 1.18 name too
    for old in renamed:
        assert old in ours.columns, f"{command}: legacy column {old}"


def test_show_help_is_a_usage_notice_in_both(consoles):
    for console in consoles:
        answer = console.run("SHOW HELP")
        assert answer.ok and answer.tag == "SHOW" and answer.columns == []
        assert [primary for primary, _ in answer.notices] == ["Console usage"]
    ref_usage = consoles[0].run("SHOW HELP").notices[0][1]
    our_usage = consoles[1].run("SHOW HELP").notices[0][1]
    # every command 1.18 lists is listed by pgrelay too
    words = lambda text: set(re.findall(r"[A-Z_]{3,}", text))  # noqa: E731
    assert words(ref_usage) <= words(our_usage), words(ref_usage) - words(our_usage)


# ---- rows where they do not depend on the implementation -------------------------------------------

def names(answer, column):
    i = answer.columns.index(column)
    return [row[i] for row in answer.rows]


def test_show_databases_lists_the_same_databases(consoles):
    ref, ours = (c.run("SHOW DATABASES") for c in consoles)
    assert sorted(names(ours, "name")) == sorted(names(ref, "name"))
    ref_rows = {row[0]: dict(zip(ref.columns, row)) for row in ref.rows}
    for row in ours.rows:
        mine = dict(zip(ours.columns, row))
        theirs = ref_rows[mine["name"]]
        for key in ("database", "pool_size", "min_pool_size", "reserve_pool", "pool_mode", "max_connections",
                    "paused", "disabled"):
            assert mine[key] == theirs[key], f"{mine['name']}.{key}: {mine[key]!r} vs PgBouncer {theirs[key]!r}"


def test_show_config_has_every_pgbouncer_key_and_the_ini_values(consoles):
    ref, ours = (c.run("SHOW CONFIG") for c in consoles)
    ref_config = {row[0]: row[1] for row in ref.rows}
    our_config = {row[0]: row[1] for row in ours.rows}
    missing = sorted(set(ref_config) - set(our_config))
    assert not missing, f"SHOW CONFIG keys PgBouncer 1.18 has and pgrelay lacks: {missing}"
    for key in ("listen_addr", "auth_type", "auth_user", "admin_users", "stats_users", "pool_mode",
                "default_pool_size", "max_client_conn", "ignore_startup_parameters"):
        assert our_config[key] == ref_config[key], f"{key}: {our_config[key]!r} vs PgBouncer {ref_config[key]!r}"
    changeable = {row[0]: row[3] for row in ours.rows}
    assert set(changeable.values()) <= {"yes", "no"}


def test_show_version_has_pgbouncer_format(consoles):
    for console in consoles:
        answer = console.run("SHOW VERSION")
        assert answer.columns == ["version"] and len(answer.rows) == 1
        assert re.fullmatch(r"\S+ \d+\.\d+\.\d+", answer.rows[0][0]), answer.rows[0][0]


@pytest.mark.parametrize("command, column", [("SHOW LISTS", "list"), ("SHOW TOTALS", "name"),
                                             ("SHOW STATE", "key")])
def test_row_names_cover_pgbouncers(consoles, command, column):
    ref, ours = (c.run(command) for c in consoles)
    if not ref.ok:
        assert command.split()[1] in SHOW_COMMANDS_ADDED_SINCE_1_18
        assert names(ours, column) == ["active", "paused", "suspended"]  # 1.25.2's SHOW STATE
        return
    assert is_subsequence(names(ref, column), names(ours, column)), (names(ref, column), names(ours, column))


# ---- errors and admin commands -------------------------------------------------------------------

def test_unknown_command_same_sqlstate_and_the_session_goes_on(consoles):
    for text in ("SHOW NO_SUCH_THING", "FROBNICATE", "SHOW"):
        ref, ours = (c.run(text) for c in consoles)
        assert not ref.ok and not ours.ok
        assert ours.sqlstate == ref.sqlstate == "08P01", (text, ref.sqlstate, ours.sqlstate)
    for console in consoles:
        assert console.run("SHOW VERSION").ok


def paused_column(answer):
    return {row[0]: row[answer.columns.index("paused")] for row in answer.rows}


def test_reload_pause_resume_answer_alike(consoles):
    # SHOW DATABASES under a global PAUSE too: PgBouncer leaves each database's `paused` at 0.
    sequence = ["RELOAD", "RESUME", "PAUSE", "SHOW DATABASES", "PAUSE", "PAUSE appdb", "RESUME", "RESUME",
                "PAUSE appdb", "SHOW DATABASES", "RESUME appdb", "RESUME appdb", "SHOW DATABASES",
                "PAUSE no_such_db", "RESUME no_such_db", "RELOAD"]
    try:
        for command in sequence:
            ref, ours = (c.run(command) for c in consoles)
            assert ours.ok == ref.ok, f"{command}: PgBouncer ok={ref.ok} ({ref.sqlstate}), pgrelay ok={ours.ok} ({ours.sqlstate})"
            assert ours.tag == ref.tag, command
            if command == "SHOW DATABASES":
                assert paused_column(ours) == paused_column(ref), command
    finally:
        for console in consoles:
            console.run("RESUME")


def test_stats_user_is_refused_admin_commands_alike(pair):
    ref, ours = (Console(p, user="stats") for p in pair)
    try:
        for command in ("SHOW POOLS", "RELOAD", "PAUSE", "RESUME", "SHOW VERSION"):
            a, b = ref.run(command), ours.run(command)
            assert a.ok == b.ok, f"{command}: PgBouncer ok={a.ok}, pgrelay ok={b.ok}"
    finally:
        ref.close()
        ours.close()
