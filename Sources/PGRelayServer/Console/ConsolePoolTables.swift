import Foundation
import NIOCore
import PGRelayCore

/// SHOW POOLS, SERVERS, CLIENTS and SOCKETS: the live objects, PgBouncer's columns.
extension ConsoleTables {
    static func pools(_ runtime: ProxyRuntime) -> ConsoleTable {
        var table = ConsoleTable([
            ("database", .text), ("user", .text), ("cl_active", .int4), ("cl_waiting", .int4),
            ("cl_active_cancel_req", .int4), ("cl_waiting_cancel_req", .int4), ("sv_active", .int4),
            ("sv_active_cancel", .int4), ("sv_being_canceled", .int4), ("sv_idle", .int4), ("sv_used", .int4),
            ("sv_tested", .int4), ("sv_login", .int4), ("maxwait", .int4), ("maxwait_us", .int4),
            ("pool_mode", .text), ("load_balance_hosts", .text),
        ])
        let clients = runtime.allClients()
        for pool in runtime.allPools() {
            let counts = pool.counts()
            var active = 0
            var waiting = 0
            for client in clients where client.pool === pool {
                switch client.stateDescription {
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
                pool.settings.mode.rawValue, pool.entry.hosts.count > 1 ? pool.entry.loadBalanceHosts.rawValue : nil,
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

    static func servers(_ runtime: ProxyRuntime) -> ConsoleTable {
        var table = ConsoleTable(socketColumns)
        for row in serverRows(runtime, state: { $0 }) { table.add(row) }
        return table
    }

    static func clients(_ runtime: ProxyRuntime) -> ConsoleTable {
        var table = ConsoleTable(socketColumns)
        for row in clientRows(runtime, state: { $0 }) { table.add(row) }
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
    static func sockets(_ runtime: ProxyRuntime) -> ConsoleTable {
        var table = ConsoleTable(socketColumns + socketBufferColumns)
        let zeros = Array(repeating: "0", count: socketBufferColumns.count)
        for row in clientRows(runtime, state: { "cl_" + $0 }) { table.add(row + zeros) }
        for row in serverRows(runtime, state: { "sv_" + $0 }) { table.add(row + zeros) }
        return table
    }

    /// PgBouncer lists the sockets whose buffers hold unprocessed bytes; pgrelay keeps none
    /// (see `sockets`), so the table has PgBouncer's columns and no rows.
    static func activeSockets() -> ConsoleTable {
        ConsoleTable(socketColumns + socketBufferColumns)
    }

    private static func serverRows(_ runtime: ProxyRuntime, state stateName: (String) -> String) -> [[String?]] {
        let now = NIODeadline.now()
        let wallNow = Date()
        var rows: [[String?]] = []
        for pool in runtime.allPools() {
            for (server, state) in pool.serverStates() {
                let local = server.channel?.localAddress
                let closeNeeded = pool.isMarkedForClose(server)
                rows.append([
                    "S", pool.key.user, pool.key.database, "none", stateName(state),
                    server.address.host, "\(server.address.port)", local?.ipAddress ?? "", "\(local?.port ?? 0)",
                    timestamp(server.createdAt, now: now, wallNow: wallNow),
                    timestamp(server.lastCheckedOrUsed, now: now, wallNow: wallNow), "0", "0", closeNeeded ? "1" : "0",
                    pointer(server.id), server.linkedClientID.map(pointer) ?? "", "\(server.backendKey?.processID ?? 0)",
                    server.tlsDescription, "", "0", "\(server.id)",
                ])
            }
        }
        return rows
    }

    private static func clientRows(_ runtime: ProxyRuntime, state stateName: (String) -> String) -> [[String?]] {
        let now = NIODeadline.now()
        let wallNow = Date()
        let listenPort = runtime.config.listenPort
        return runtime.allClients().map { client in
            let remote = client.channel.remoteAddress
            let local = client.channel.localAddress
            let isUnix = client.isUnixSocket
            let waitedMicros = client.waitStarted.map { UInt64(max(0, (now - $0).nanoseconds)) / 1000 } ?? 0
            return [
                "C", client.userName, client.databaseName, "none", stateName(client.adminState),
                isUnix ? "unix" : remote?.ipAddress ?? "", "\(isUnix ? listenPort : remote?.port ?? 0)",
                isUnix ? "unix" : local?.ipAddress ?? "", "\(isUnix ? listenPort : local?.port ?? 0)",
                Self.timestamp(client.connectedAtWall), timestamp(client.lastRequestAt, now: now, wallNow: wallNow),
                "\(waitedMicros / 1_000_000)", "\(waitedMicros % 1_000_000)", "0", pointer(client.id),
                client.linkedServerID.map(pointer) ?? "", "0", client.tlsDescription,
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

extension ClientSession {
    /// The state the admin views show: PgBouncer lists console clients as active.
    var adminState: String {
        console != nil ? "active" : stateDescription
    }
}
