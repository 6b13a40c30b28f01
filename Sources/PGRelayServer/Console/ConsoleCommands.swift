import NIOCore
import PGRelayCore
import PGWire

/// What running one console command produced.
enum ConsoleReply {
    /// A result set (SHOW).
    case table(ConsoleTable)
    /// A command without rows; the tag goes into CommandComplete.
    case done(tag: String)
    /// A NoticeResponse, then CommandComplete with the tag (SHOW HELP).
    case notice(ErrorFields, tag: String)

    /// The backend messages of this reply; a table's rows in the given result formats.
    func write(into out: inout ByteBuffer, formats: [Int16], describe: Bool) {
        switch self {
        case .table(let table):
            if describe { ConsoleWire.writeRowDescription(table.columns, formats: formats, into: &out) }
            for row in table.rows { ConsoleWire.writeDataRow(row, columns: table.columns, formats: formats, into: &out) }
            out.writeCommandComplete("SHOW")
        case .done(let tag):
            out.writeCommandComplete(tag)
        case .notice(let fields, let tag):
            out.writeNoticeResponse(fields)
            out.writeCommandComplete(tag)
        }
    }
}

/// Runs parsed console commands against the runtime. Commands that wait (PAUSE, WAIT_CLOSE)
/// complete their future later; the others at once.
enum ConsoleCommands {
    static func run(_ command: ConsoleCommand, runtime: ProxyRuntime, on loop: EventLoop) -> EventLoopFuture<ConsoleReply> {
        do {
            switch command {
            case .show(let subject):
                return runtime.adminViews(on: loop).flatMapThrowing { views in
                    .table(try ConsoleTables.table(named: subject, runtime: runtime, views: views))
                }
            case .help:
                return loop.makeSucceededFuture(.notice(usage, tag: command.tag))
            case .pause(let database):
                try checkCanPause(database, runtime: runtime)
                return try runtime.pause(database: database).hop(to: loop).map { .done(tag: command.tag) }
            case .waitClose(let database):
                return try runtime.waitClose(database: database).hop(to: loop).map { .done(tag: command.tag) }
            case .set(let key, let value):
                // A TLS setting whose setup cannot be built yet is changed all the same, with a notice.
                if let notice = try controller(runtime).set(key: key, value: value) {
                    return loop.makeSucceededFuture(.notice(notice, tag: command.tag))
                }
                return loop.makeSucceededFuture(.done(tag: command.tag))
            default:
                try runImmediate(command, runtime: runtime, on: loop)
                return loop.makeSucceededFuture(.done(tag: command.tag))
            }
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    private static func runImmediate(_ command: ConsoleCommand, runtime: ProxyRuntime, on loop: EventLoop) throws {
        switch command {
        case .reload:
            guard case .failure(let error) = try controller(runtime).reload() else { return }
            throw ConsoleError(sqlState: "F0000", message: "RELOAD failed, see logs for additional details",
                               detail: "the running configuration is kept: \(error)")
        case .resume(let database):
            try checkCanResume(database, runtime: runtime)
            try runtime.resume(database: database)
        case .suspend:
            throw ConsoleError(sqlState: "0A000", message: "SUSPEND is not supported by pgrelay (it serves online restarts, which pgrelay does not do); use PAUSE")
        case .disable(let database):
            try runtime.disable(true, database: database)
        case .enable(let database):
            try runtime.disable(false, database: database)
        case .reconnect(let database):
            try runtime.reconnect(database: database)
        case .kill(let database):
            try runtime.kill(database: database)
        case .killClient(let id):
            try runtime.killClient(id: id)
        case .shutdown(let mode):
            let controller = try controller(runtime)
            if mode == .immediate {
                // Let the CommandComplete reach the admin before the shutdown closes its connection.
                loop.scheduleTask(in: .milliseconds(20)) { controller.shutdown(mode) }
            } else {
                // In force before the admin hears back: a client's next request already meets it.
                controller.shutdown(mode)
            }
        case .show, .help, .pause, .waitClose, .set:
            break
        }
    }

    /// PAUSE while everything is paused is refused, as PgBouncer refuses it ("already
    /// suspended/paused"), so that a runbook learns that someone else paused first.
    private static func checkCanPause(_ database: String?, runtime: ProxyRuntime) throws {
        guard !runtime.isPausedAll else {
            throw ConsoleError(message: "already suspended/paused")
        }
        if let database, AdminConsoleSession.databaseNames.contains(database) {
            throw ConsoleError(message: "cannot pause admin db: \(database)")
        }
    }

    /// RESUME of something not paused is refused, as PgBouncer does.
    private static func checkCanResume(_ database: String?, runtime: ProxyRuntime) throws {
        if runtime.isShuttingDown {
            throw ConsoleError(sqlState: "08P01", message: "pooler is shutting down")
        }
        if let database {
            try runtime.checkKnown(database: database)
            guard runtime.isPaused(database: database) else {
                throw ConsoleError(message: "database \(database) is not paused")
            }
        } else if !runtime.isPausedAll {
            throw ConsoleError(message: "pooler is not paused/suspended")
        }
    }

    /// SHOW HELP's notice: PgBouncer's usage text plus pgrelay's own commands.
    static let usage = ErrorFields(severity: "NOTICE", sqlState: "00000", message: "Console usage", detail: """

        \tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION
        \tSHOW PEERS|PEER_POOLS
        \tSHOW FDS|SOCKETS|ACTIVE_SOCKETS|LISTS|MEM|STATE
        \tSHOW DNS_HOSTS|DNS_ZONES
        \tSHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS
        \tSHOW QUERIES|HEALTH|ROUTES|RATE_LIMITS
        \tSET key = arg
        \tRELOAD
        \tPAUSE [<db>]
        \tRESUME [<db>]
        \tDISABLE <db>
        \tENABLE <db>
        \tRECONNECT [<db>]
        \tKILL [<db>]
        \tKILL_CLIENT <client_id>
        \tSUSPEND
        \tSHUTDOWN
        \tSHUTDOWN WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS
        \tWAIT_CLOSE [<db>]
        """)

    private static func controller(_ runtime: ProxyRuntime) throws -> ProxyServer {
        guard let controller = runtime.controller else {
            throw ConsoleError(message: "this command needs the running server")
        }
        return controller
    }
}
