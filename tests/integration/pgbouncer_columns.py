"""Column lists of PgBouncer 1.25.2's admin console, per SHOW command.

Read off PgBouncer's source at tag pgbouncer_1_25_2 (src/admin.c, src/stats.c):
the RowDescription each SHOW command sends. pgrelay must send these columns
first, in this order; its own extra columns may follow. SHOW HELP sends a
notice, no table.
"""

SOCKET_COLUMNS = [
    "type", "user", "database", "replication", "state", "addr", "port", "local_addr",
    "local_port", "connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr",
    "link", "remote_pid", "tls", "application_name", "prepared_statements", "id",
]

# SHOW SOCKETS and ACTIVE_SOCKETS: the socket columns, then the buffer positions.
SOCKET_BUFFER_COLUMNS = [
    "recv_pos", "pkt_pos", "pkt_remain", "send_pos", "send_remain", "pkt_avail", "send_avail",
]

STATS_COUNTERS = [
    "server_assignment_count", "xact_count", "query_count", "bytes_received", "bytes_sent",
    "xact_time", "query_time", "wait_time",
]

PGBOUNCER_1_25_COLUMNS = {
    "POOLS": [
        "database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
        "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle",
        "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode",
        "load_balance_hosts",
    ],
    "STATS": [
        "database", "total_server_assignment_count", "total_xact_count", "total_query_count",
        "total_received", "total_sent", "total_xact_time", "total_query_time", "total_wait_time",
        "total_client_parse_count", "total_server_parse_count", "total_bind_count",
        "avg_server_assignment_count", "avg_xact_count", "avg_query_count", "avg_recv",
        "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time",
        "avg_client_parse_count", "avg_server_parse_count", "avg_bind_count",
    ],
    "STATS_TOTALS": ["database"] + STATS_COUNTERS
    + ["client_parse_count", "server_parse_count", "bind_count"],
    "STATS_AVERAGES": ["database"] + STATS_COUNTERS
    + ["avg_client_parse_count", "avg_server_parse_count", "avg_bind_count"],
    "TOTALS": ["name", "value"],
    "SERVERS": SOCKET_COLUMNS,
    "CLIENTS": SOCKET_COLUMNS,
    "DATABASES": [
        "name", "host", "port", "database", "force_user", "pool_size", "min_pool_size",
        "reserve_pool_size", "server_lifetime", "pool_mode", "load_balance_hosts",
        "max_connections", "current_connections", "max_client_connections",
        "current_client_connections", "paused", "disabled",
    ],
    "USERS": [
        "name", "pool_size", "reserve_pool_size", "pool_mode", "max_user_connections",
        "current_connections", "max_user_client_connections", "current_client_connections",
    ],
    "CONFIG": ["key", "value", "default", "changeable"],
    "LISTS": ["list", "items"],
    "MEM": ["name", "size", "used", "free", "memtotal"],
    "STATE": ["key", "value"],
    "FDS": [
        "fd", "task", "user", "database", "addr", "port", "cancel", "link", "client_encoding",
        "std_strings", "datestyle", "timezone", "password", "scram_client_key",
        "scram_server_key",
    ],
    "VERSION": ["version"],
    "SOCKETS": SOCKET_COLUMNS + SOCKET_BUFFER_COLUMNS,
    "ACTIVE_SOCKETS": SOCKET_COLUMNS + SOCKET_BUFFER_COLUMNS,
    "DNS_HOSTS": ["hostname", "ttl", "addrs"],
    "DNS_ZONES": ["zonename", "serial", "count"],
    "PEERS": ["peer_id", "host", "port", "pool_size"],
    "PEER_POOLS": ["peer_id", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active_cancel", "sv_login"],
}

# Columns older PgBouncers (Debian 12 ships 1.18) send under names that 1.25
# renamed; the contract keeps them as extra columns for old exporters.
LEGACY_COLUMNS = {
    "STATS": ["total_requests"],
    "DATABASES": ["reserve_pool"],
}

# pgrelay's own columns after PgBouncer's and the legacy ones (hosts= failover, issue 17). New
# columns at the end are what PgBouncer's own releases add too; exporters read columns by name.
PGRELAY_COLUMNS = {
    "SERVERS": ["role", "role_changed_at"],
    "DATABASES": ["primary_changed_at", "failovers"],
}

# What changed in those tables between Debian's PgBouncer 1.18.0 and 1.25.2, read off the
# RowDescriptions of src/admin.c and src/stats.c at each release tag (the version in each comment
# is the first tag that sends the column). A 1.18 column keeps its place relative to the others;
# these are the only columns 1.25.2 has and 1.18 lacks.
_SOCKET_ADDITIONS = [
    "replication",          # 1.23 (replication connections)
    "prepared_statements",  # 1.21 (prepared statements in transaction mode)
    "id",                   # 1.24 (KILL_CLIENT takes it)
]
_STATS_ADDITIONS = [
    "total_server_assignment_count",  # 1.23
    "total_client_parse_count", "total_server_parse_count", "total_bind_count",  # 1.21
    "avg_server_assignment_count",  # 1.23
    "avg_client_parse_count", "avg_server_parse_count", "avg_bind_count",  # 1.21
]
ADDED_SINCE_1_18 = {
    "POOLS": ["load_balance_hosts"],  # 1.24
    "STATS": _STATS_ADDITIONS,
    "STATS_TOTALS": ["server_assignment_count",  # 1.23
                     "client_parse_count", "server_parse_count", "bind_count"],  # 1.21
    "STATS_AVERAGES": ["server_assignment_count",  # 1.23
                       "avg_client_parse_count", "avg_server_parse_count", "avg_bind_count"],  # 1.21
    "SERVERS": _SOCKET_ADDITIONS,
    "CLIENTS": _SOCKET_ADDITIONS,
    "SOCKETS": _SOCKET_ADDITIONS,
    "ACTIVE_SOCKETS": _SOCKET_ADDITIONS,
    "DATABASES": [
        "server_lifetime",  # 1.23
        "load_balance_hosts", "max_client_connections", "current_client_connections",  # 1.24
    ],
    "USERS": [
        "pool_size", "max_user_connections", "current_connections",  # 1.23
        "reserve_pool_size", "max_user_client_connections", "current_client_connections",  # 1.24
    ],
}

# Columns 1.18 sends under the name 1.24 gave them (1.18 name -> 1.25 name).
RENAMED_SINCE_1_18 = {
    "DATABASES": {"reserve_pool": "reserve_pool_size"},  # 1.24
}

# SHOW commands 1.25.2 answers and 1.18.0 does not (1.18 answers "invalid command").
SHOW_COMMANDS_ADDED_SINCE_1_18 = {
    "PEERS", "PEER_POOLS",  # 1.19 ([peers] section)
    "STATE",                # 1.19
}
