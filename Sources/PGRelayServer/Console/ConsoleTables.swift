import Foundation
import NIOCore
import PGRelayCore

/// The SHOW tables of the console, with PgBouncer 1.25's column names, order and types.
enum ConsoleTables {
    static func table(named name: String, runtime: ProxyRuntime) throws -> ConsoleTable {
        switch name {
        case "VERSION": return version()
        case "POOLS": return pools(runtime)
        default:
            throw AdminConsoleSession.ConsoleError(sqlState: "42601", message: "unknown SHOW command: \(name)")
        }
    }

    static func version() -> ConsoleTable {
        var table = ConsoleTable([("version", .text)])
        table.add([PGRelayVersion.line])
        return table
    }

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
            let mine = clients.filter { $0.pool === pool }
            let active = mine.filter { $0.stateDescription == "active" || $0.stateDescription == "idle" }.count
            let waiting = mine.filter { $0.stateDescription == "waiting" }.count
            table.add([
                pool.key.database, pool.key.user, "\(active)", "\(waiting)", "0", "0", "\(counts.active)", "0", "0",
                "\(counts.idle)", "0", "\(counts.busy)", "\(counts.connecting)",
                "\(counts.maxWaitNanos / 1_000_000_000)", "\((counts.maxWaitNanos / 1000) % 1_000_000)",
                pool.settings.mode.rawValue, "",
            ])
        }
        return table
    }
}

/// Admin commands (admin users only).
enum ConsoleCommands {
    static func run(verb: String, arguments: [String], runtime: ProxyRuntime, into out: inout ByteBuffer) throws {
        guard let controller = runtime.controller else {
            throw AdminConsoleSession.ConsoleError(sqlState: "XX000", message: "no controller")
        }
        switch verb {
        case "RELOAD":
            switch controller.reload() {
            case .success: out.writeCommandComplete("RELOAD")
            case .failure(let error):
                throw AdminConsoleSession.ConsoleError(sqlState: "F0000", message: "reload failed: \(error)")
            }
        case "SHUTDOWN":
            out.writeCommandComplete("SHUTDOWN")
            controller.shutdown(immediate: false)
        default:
            throw AdminConsoleSession.ConsoleError(sqlState: "42601", message: "unknown command: \(verb)")
        }
    }
}
