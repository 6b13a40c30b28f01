import Foundation
import NIOCore
import PGRelayCore

/// SHOW POOLS, SERVERS, CLIENTS and SOCKETS: the live objects, PgBouncer's columns.
extension ConsoleTables {
    static func pools(_ runtime: ProxyRuntime, _ views: AdminViews) -> ConsoleTable {
        var table = ConsoleTable([
            ("database", .text), ("user", .text), ("cl_active", .int4), ("cl_waiting", .int4),
            ("cl_active_cancel_req", .int4), ("cl_waiting_cancel_req", .int4), ("sv_active", .int4),
            ("sv_active_cancel", .int4), ("sv_being_canceled", .int4), ("sv_idle", .int4), ("sv_used", .int4),
            ("sv_tested", .int4), ("sv_login", .int4), ("maxwait", .int4), ("maxwait_us", .int4),
            ("pool_mode", .text), ("load_balance_hosts", .text),
        ])
        for pool in runtime.allPools() {
            let counts = pool.counts()
            var active = 0
            var waiting = 0
            for client in views.clients where client.pool === pool {
                switch client.state {
                case "active", "idle": active += 1
                case "waiting": waiting += 1
                default: break
                }
            }
            let maxWaitMicros = counts.maxWaitNanos / 1000
            table.add([
                pool.key.database, pool.key.user, "\(active)", "\(waiting)", "0", "0", "\(counts.active)", "0", "0",
                "\(counts.idle)", "\(counts.busy)", "0", "\(counts.connecting)",
                "\(maxWaitMicros / 1_000_000)", "\(maxWaitMicros % 1_000_000)",
                pool.settings.poolMode.rawValue, pool.entry.hosts.count > 1 ? pool.entry.loadBalanceHosts.rawValue : nil,
            ])
        }
        return table
    }

    /// The 21 columns PgBouncer's SHOW SERVERS and SHOW CLIENTS share.
    static let socketColumns: [(String, ConsoleTable.ColumnType)] = [
        ("type", .text), ("user", .text), ("database", .text), ("replication", .text), ("state", .text),
        ("addr", .text), ("port", .int4), ("local_addr", .text), ("local_port", .int4),
        ("connect_time", .text), ("request_time", .text), ("wait", .int4), ("wait_us", .int4), ("close_needed", .int4),
        ("ptr", .text), ("link", .text), ("remote_pid", .int4), ("tls", .text), ("application_name", .text),
        ("prepared_statements", .int4), ("id", .int4),
    ]

    /// PgBouncer's columns, then ours: the role the server's pool serves (a `hosts=` server
    /// changes it on promotion) and, for `hosts=` servers, when its server was found in it.
    static func servers(_ views: AdminViews, routing: RoutingSnapshot) -> ConsoleTable {
        var table = ConsoleTable(socketColumns + [("role", .text), ("role_changed_at", .text)])
        for (server, row) in zip(views.servers, serverRows(views, state: { $0 })) {
            let role: BackendRole = server.pool.key.replica ? .replica : .primary
            let changed = routing.databases[server.pool.entryName]?.discovery?.members
                .first { $0.id.address == server.address }?.roleChangedAt
            table.add(row + [role.rawValue, changed.map { timestamp(Date(timeIntervalSince1970: $0)) }])
        }
        return table
    }

    static func clients(_ runtime: ProxyRuntime, _ views: AdminViews) -> ConsoleTable {
        var table = ConsoleTable(socketColumns)
        for row in clientRows(runtime, views, state: { $0 }) { table.add(row) }
        return table
    }

    /// The buffer columns PgBouncer adds to SHOW SOCKETS and ACTIVE_SOCKETS.
    static let socketBufferColumns: [(String, ConsoleTable.ColumnType)] = [
        ("recv_pos", .int4), ("pkt_pos", .int4), ("pkt_remain", .int4), ("send_pos", .int4), ("send_remain", .int4),
        ("pkt_avail", .int4), ("send_avail", .int4),
    ]

    /// Every client and server, states prefixed `cl_`/`sv_` as PgBouncer lists them. The buffer
    /// columns are zero: NIO owns the socket buffers and pgrelay forwards what it reads at once,
    /// so no socket holds a partial packet of pgrelay's between reads.
    static func sockets(_ runtime: ProxyRuntime, _ views: AdminViews) -> ConsoleTable {
        var table = ConsoleTable(socketColumns + socketBufferColumns)
        let zeros = Array(repeating: "0", count: socketBufferColumns.count)
        for row in clientRows(runtime, views, state: { "cl_" + $0 }) { table.add(row + zeros) }
        for row in serverRows(views, state: { "sv_" + $0 }) { table.add(row + zeros) }
        return table
    }

    /// PgBouncer lists the sockets whose buffers hold unprocessed bytes; pgrelay keeps none
    /// (see `sockets`), so the table has PgBouncer's columns and no rows.
    static func activeSockets() -> ConsoleTable {
        ConsoleTable(socketColumns + socketBufferColumns)
    }

    private static func serverRows(_ views: AdminViews, state stateName: (String) -> String) -> [[String?]] {
        let now = NIODeadline.now()
        let wallNow = Date()
        return views.servers.map { server in
            [
                "S", server.pool.key.user, server.pool.key.database, "none", stateName(server.state),
                server.address.host, "\(server.address.port)", server.local?.ipAddress ?? "", "\(server.local?.port ?? 0)",
                timestamp(server.createdAt, now: now, wallNow: wallNow),
                timestamp(server.lastCheckedOrUsed, now: now, wallNow: wallNow), "0", "0", server.closeNeeded ? "1" : "0",
                pointer(server.id), server.linkedClientID.map(pointer) ?? "", "\(server.backendPID)",
                server.tls, "", "0", "\(server.id)",
            ]
        }
    }

    private static func clientRows(_ runtime: ProxyRuntime, _ views: AdminViews, state stateName: (String) -> String) -> [[String?]] {
        let now = NIODeadline.now()
        let wallNow = Date()
        let listenPort = runtime.config.listenPort
        return views.clients.map { client in
            let remote = client.remote
            let local = client.local
            let isUnix = client.isUnixSocket
            let waitedMicros = client.waitStarted.map { UInt64(max(0, (now - $0).nanoseconds)) / 1000 } ?? 0
            return [
                "C", client.user, client.database, "none", stateName(client.state),
                isUnix ? "unix" : remote?.ipAddress ?? "", "\(isUnix ? listenPort : remote?.port ?? 0)",
                isUnix ? "unix" : local?.ipAddress ?? "", "\(isUnix ? listenPort : local?.port ?? 0)",
                Self.timestamp(client.connectedAtWall), timestamp(client.lastRequestAt, now: now, wallNow: wallNow),
                "\(waitedMicros / 1_000_000)", "\(waitedMicros % 1_000_000)", "0", pointer(client.id),
                client.linkedServerID.map(pointer) ?? "", "0", client.tls,
                client.applicationName, "0", "\(client.id)",
            ]
        }
    }

    /// PgBouncer shows object addresses in `ptr` and `link`; ids play that part here, so that a
    /// client's `link` equals its server's `ptr`.
    static func pointer(_ id: UInt64) -> String {
        "0x" + String(id, radix: 16)
    }

    /// A monotonic instant as wall-clock text.
    static func timestamp(_ instant: NIODeadline, now: NIODeadline, wallNow: Date) -> String {
        let ago = Double((now - instant).nanoseconds) / 1e9
        return timestamp(wallNow.addingTimeInterval(-ago))
    }

    /// PgBouncer's timestamp text (`%Y-%m-%d %H:%M:%S %Z`), in UTC.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }
}
