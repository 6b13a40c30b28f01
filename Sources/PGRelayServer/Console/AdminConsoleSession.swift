import Foundation
import NIOCore
import PGRelayCore
import PGWire

/// The admin console: a client connected to the virtual database "pgrelay" (or "pgbouncer").
/// It answers SHOW commands and runs admin commands, like PgBouncer's console, over the simple
/// protocol (psql) and the extended one (drivers: Parse/Bind/Describe/Execute/Sync).
///
/// Messages are handled one at a time, in order, on the client's event loop; a command that
/// waits (PAUSE, WAIT_CLOSE) holds the messages behind it until it completes.
final class AdminConsoleSession {
    static let databaseNames: Set<String> = ["pgrelay", "pgbouncer"]
    /// Messages queued behind a waiting command before the client is cut off.
    static let maxQueuedMessages = 1024
    /// Named prepared statements or portals a console client may keep.
    static let maxNamedObjects = 256

    /// What a console user may do.
    enum Access: Equatable {
        /// admin_users (and the OS user over the Unix socket): every command.
        case admin
        /// stats_users: SHOW only.
        case stats
    }

    let runtime: ProxyRuntime
    unowned let client: ClientSession
    let access: Access
    private let allocator = ByteBufferAllocator()

    private var queue = CircularBuffer<Frame>()
    private var running = false
    private var draining = false
    private var skippingUntilSync = false
    private var statements: [String: String] = [:]
    private var portals: [String: Portal] = [:]

    /// A bound statement: its text, the result formats the client asked for, and its result once
    /// Describe or Execute produced it (a SHOW runs once per portal).
    private struct Portal {
        var sql: String
        var formats: [Int16]
    }

    init(runtime: ProxyRuntime, client: ClientSession, access: Access) {
        self.runtime = runtime
        self.client = client
        self.access = access
    }

    /// Who may open the console, as PgBouncer decides it: admin_users, stats_users, and over the
    /// Unix socket the OS user running the proxy. Nil: refused at login.
    static func access(user: String, isUnixSocket: Bool, config: Config) -> Access? {
        if config.adminUsers.contains(user) || (isUnixSocket && isLocalOwner(user: user)) { return .admin }
        if config.statsUsers.contains(user) { return .stats }
        return nil
    }

    /// The OS user running pgrelay may open the console over the Unix socket without a password,
    /// as PgBouncer allows, under its own name or as pgbouncer/pgrelay.
    static func isLocalOwner(user: String) -> Bool {
        if user == "pgbouncer" || user == "pgrelay" { return true }
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return false }
        return user == String(cString: name)
    }

    var welcomeParameters: [(String, String)] {
        [("server_version", PGRelayVersion.serverVersion), ("server_encoding", "UTF8"), ("client_encoding", "UTF8"),
         ("DateStyle", "ISO"), ("TimeZone", "UTC"), ("standard_conforming_strings", "on"), ("application_name", client.applicationName),
         ("integer_datetimes", "on"), ("IntervalStyle", "postgres")]
    }

    // MARK: message queue

    /// Takes one frontend message (on the client's loop); replies are written in order.
    func receive(_ frame: Frame) {
        guard queue.count < Self.maxQueuedMessages else {
            client.fatal(ErrorFields(severity: "FATAL", sqlState: "54000", message: "too many console messages queued"))
            return
        }
        queue.append(frame)
        drain()
    }

    private func drain() {
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while !running, let frame = queue.popFirst() {
            running = true
            process(frame).whenComplete { [self] _ in
                running = false
                if !draining {
                    drain()
                }
            }
        }
        client.transport.flush(onOwnLoop: loop.inEventLoop)
    }

    private func send(_ build: (inout ByteBuffer) -> Void) {
        var out = allocator.buffer(capacity: 256)
        build(&out)
        client.transport.write(out, onOwnLoop: loop.inEventLoop)
    }

    private func sendError(_ error: Error) {
        let fields: ErrorFields
        switch error {
        case let error as ConsoleError: fields = ErrorFields(sqlState: error.sqlState, message: error.message, detail: error.detail)
        case let error as ConfigError: fields = ErrorFields(sqlState: "22023", message: "\(error)")
        default: fields = ErrorFields(sqlState: "XX000", message: "\(error)")
        }
        send { $0.writeErrorResponse(fields) }
    }

    private var loop: EventLoop { client.loop }

    private func process(_ frame: Frame) -> EventLoopFuture<Void> {
        let message: FrontendMessage?
        do {
            message = try FrontendMessage.decode(frame)
        } catch {
            client.fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "invalid message on the admin console"))
            return loop.makeSucceededVoidFuture()
        }
        switch message {
        case .query(let sql)?:
            skippingUntilSync = false
            return runSimpleQuery(sql)
        case .sync?:
            skippingUntilSync = false
            send { $0.writeReadyForQuery(.idle) }
        case .flush?:
            client.transport.flush(onOwnLoop: loop.inEventLoop)
        default:
            guard !skippingUntilSync else { return loop.makeSucceededVoidFuture() }
            do {
                return try runExtended(message)
            } catch {
                sendError(error)
                skippingUntilSync = true
            }
        }
        return loop.makeSucceededVoidFuture()
    }

    // MARK: simple protocol

    private func runSimpleQuery(_ sql: String) -> EventLoopFuture<Void> {
        let texts = ConsoleCommandParser.statements(sql)
        guard !texts.isEmpty else {
            send {
                $0.writeEmptyBackendMessage(BackendType.emptyQueryResponse)
                $0.writeReadyForQuery(.idle)
            }
            return loop.makeSucceededVoidFuture()
        }
        return runStatements(texts[...]).always { [self] _ in
            send { $0.writeReadyForQuery(.idle) }
        }
    }

    /// Runs statements in order; the first error ends the batch (as PostgreSQL does).
    private func runStatements(_ texts: ArraySlice<String>) -> EventLoopFuture<Void> {
        guard let text = texts.first else { return loop.makeSucceededVoidFuture() }
        return run(text).flatMap { [self] reply in
            send { reply.write(into: &$0, formats: [], describe: true) }
            return runStatements(texts.dropFirst())
        }.flatMapError { [self] error in
            sendError(error)
            return loop.makeFailedFuture(error)
        }
    }

    /// Parses, checks access and runs one statement.
    private func run(_ text: String) -> EventLoopFuture<ConsoleReply> {
        runtime.consoleCounters.withLockedValue {
            $0.transactions &+= 1
            $0.queries &+= 1
        }
        do {
            let command = try authorized(ConsoleCommandParser.parse(text))
            return ConsoleCommands.run(command, runtime: runtime, on: loop)
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    private func authorized(_ command: ConsoleCommand) throws -> ConsoleCommand {
        guard command.isReadOnly || access == .admin else {
            throw ConsoleError(sqlState: "42501", message: "admin access needed")
        }
        return command
    }

    // MARK: extended protocol

    private func runExtended(_ message: FrontendMessage?) throws -> EventLoopFuture<Void> {
        switch message {
        case .parse(let parse)?:
            let count = ConsoleCommandParser.statements(parse.query).count
            guard count <= 1 else {
                throw ConsoleError.syntax("cannot insert multiple commands into a prepared statement")
            }
            try remember(&statements, parse.name, parse.query)
            send { $0.writeEmptyBackendMessage(BackendType.parseComplete) }
        case .bind(let bind)?:
            guard let sql = statements[bind.statement] else {
                throw ConsoleError(sqlState: "26000", message: "prepared statement \"\(bind.statement)\" does not exist")
            }
            let formats = try ConsoleWire.resultFormats(ofBindRemainder: bind.remainder)
            try remember(&portals, bind.portal, Portal(sql: sql, formats: formats))
            send { $0.writeEmptyBackendMessage(BackendType.bindComplete) }
        case .describe(let target)?:
            try describe(target)
        case .execute(let name, _)?:
            return try execute(portal: name)
        case .close(let target)?:
            if target.kind == .statement { statements[target.name] = nil } else { portals[target.name] = nil }
            send { $0.writeEmptyBackendMessage(BackendType.closeComplete) }
        default:
            throw ConsoleError(sqlState: "0A000", message: "the admin console does not support this message")
        }
        return loop.makeSucceededVoidFuture()
    }

    private func remember<Value>(_ objects: inout [String: Value], _ name: String, _ value: Value) throws {
        guard name.isEmpty || objects[name] != nil || objects.count < Self.maxNamedObjects else {
            throw ConsoleError(sqlState: "53400", message: "too many prepared statements or portals on the admin console")
        }
        objects[name] = value
    }

    /// The columns of the table a SHOW statement produces (a SHOW's columns do not depend on its
    /// rows; Execute runs it anew); nil for other commands and empty text.
    private func showColumns(_ sql: String) throws -> [ConsoleTable.Column]? {
        guard let text = ConsoleCommandParser.statements(sql).first else { return nil }
        guard case .show(let subject) = try authorized(ConsoleCommandParser.parse(text)) else { return nil }
        return try ConsoleTables.table(named: subject, runtime: runtime, views: .empty).columns
    }

    private func describe(_ target: FrontendMessage.DescribeTarget) throws {
        switch target.kind {
        case .statement:
            guard let sql = statements[target.name] else {
                throw ConsoleError(sqlState: "26000", message: "prepared statement \"\(target.name)\" does not exist")
            }
            let columns = try showColumns(sql)
            send {
                $0.writeMessage(BackendType.parameterDescription) { $0.writeInteger(Int16(0)) }
                if let columns { ConsoleWire.writeRowDescription(columns, formats: [], into: &$0) } else {
                    $0.writeEmptyBackendMessage(BackendType.noData)
                }
            }
        case .portal:
            guard let portal = portals[target.name] else {
                throw ConsoleError(sqlState: "34000", message: "portal \"\(target.name)\" does not exist")
            }
            let columns = try showColumns(portal.sql)
            send {
                if let columns { ConsoleWire.writeRowDescription(columns, formats: portal.formats, into: &$0) } else {
                    $0.writeEmptyBackendMessage(BackendType.noData)
                }
            }
        }
    }

    private func execute(portal name: String) throws -> EventLoopFuture<Void> {
        guard let portal = portals[name] else {
            throw ConsoleError(sqlState: "34000", message: "portal \"\(name)\" does not exist")
        }
        guard let text = ConsoleCommandParser.statements(portal.sql).first else {
            send { $0.writeEmptyBackendMessage(BackendType.emptyQueryResponse) }
            return loop.makeSucceededVoidFuture()
        }
        return run(text).map { [self] reply in
            send { reply.write(into: &$0, formats: portal.formats, describe: false) }
        }.flatMapErrorThrowing { [self] error in
            sendError(error)
            skippingUntilSync = true
        }
    }
}
