"""Column lists of PgBouncer 1.25.2's admin console, per SHOW command.

Read off PgBouncer's source at tag pgbouncer_1_25_2 (src/admin.c, src/stats.c):
the RowDescription each SHOW command sends. pgrelay must send these columns
first, in this order; its own extra columns may follow.
"""

SOCKET_COLUMNS = [
    "type", "user", "database", "replication", "state", "addr", "port", "local_addr",
    "local_port", "connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr",
    "link", "remote_pid", "tls", "application_name", "prepared_statements", "id",
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
}

# Columns older PgBouncers (Debian 12 ships 1.18) send under names that 1.25
# renamed; the contract keeps them as extra columns for old exporters.
LEGACY_COLUMNS = {
    "STATS": ["total_requests"],
    "DATABASES": ["reserve_pool"],
}
