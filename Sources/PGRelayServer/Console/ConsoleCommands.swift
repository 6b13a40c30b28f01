import NIOCore
import PGRelayCore

/// What running one console command produced.
enum ConsoleReply {
    /// A result set (SHOW).
    case table(ConsoleTable)
    /// A command without rows; the tag goes into CommandComplete.
    case done(tag: String)
}

/// Runs parsed console commands against the runtime. Commands that wait (PAUSE, WAIT_CLOSE)
/// complete their future later; the others at once.
enum ConsoleCommands {
    static func run(_ command: ConsoleCommand, runtime: ProxyRuntime, on loop: EventLoop) -> EventLoopFuture<ConsoleReply> {
        do {
            switch command {
            case .show(let subject):
                return loop.makeSucceededFuture(.table(try ConsoleTables.table(named: subject, runtime: runtime)))
            case .pause(let database):
                return try runtime.pause(database: database).hop(to: loop).map { .done(tag: command.tag) }
            case .waitClose(let database):
                return try runtime.waitClose(database: database).hop(to: loop).map { .done(tag: command.tag) }
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
            throw ConsoleError(sqlState: "F0000", message: "reload failed, the running configuration is kept: \(error)")
        case .resume(let database):
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
        case .set(let key, let value):
            try controller(runtime).set(key: key, value: value)
        case .shutdown(let mode):
            let controller = try controller(runtime)
            // Let the CommandComplete reach the admin before the shutdown closes its connection.
            loop.scheduleTask(in: .milliseconds(20)) {
                controller.shutdown(immediate: false, waitForClients: mode == .waitForClients)
            }
        case .show, .pause, .waitClose:
            break
        }
    }

    private static func controller(_ runtime: ProxyRuntime) throws -> ProxyServer {
        guard let controller = runtime.controller else {
            throw ConsoleError(sqlState: "55000", message: "this command needs the running server")
        }
        return controller
    }
}
