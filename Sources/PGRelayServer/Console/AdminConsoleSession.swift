import Foundation
import NIOCore
import PGRelayCore
import PGWire

/// The admin console: a client connected to the virtual database "pgrelay" (or "pgbouncer").
/// It answers SHOW commands and runs admin commands, like PgBouncer's console.
final class AdminConsoleSession {
    static let databaseNames: Set<String> = ["pgrelay", "pgbouncer"]

    let runtime: ProxyRuntime
    unowned let client: ClientSession
    private let allocator = ByteBufferAllocator()

    init(runtime: ProxyRuntime, client: ClientSession) {
        self.runtime = runtime
        self.client = client
    }

    /// The OS user running pgrelay may open the console over the Unix socket without a password,
    /// as PgBouncer allows, under its own name or as pgbouncer/pgrelay.
    static func isLocalOwner(user: String) -> Bool {
        let owner = String(cString: getpwuid(geteuid())?.pointee.pw_name ?? strdup("")!)
        return user == owner || user == "pgbouncer" || user == "pgrelay"
    }

    var welcomeParameters: [(String, String)] {
        [("server_version", PGRelayVersion.serverVersion), ("server_encoding", "UTF8"), ("client_encoding", "UTF8"),
         ("DateStyle", "ISO"), ("TimeZone", "UTC"), ("standard_conforming_strings", "on"), ("application_name", client.applicationName),
         ("integer_datetimes", "on"), ("IntervalStyle", "postgres")]
    }

    /// Handles one frontend message and returns the bytes to send back.
    func handle(_ frame: Frame) -> ByteBuffer {
        var out = allocator.buffer(capacity: 256)
        switch frame.type {
        case FrontendType.query:
            guard case .query(let sql)? = try? FrontendMessage.decode(frame) else {
                out.writeErrorResponse(ErrorFields(sqlState: "08P01", message: "invalid query message"))
                out.writeReadyForQuery(.idle)
                return out
            }
            run(sql, into: &out)
            out.writeReadyForQuery(.idle)
        default:
            out.writeErrorResponse(ErrorFields(sqlState: "0A000", message: "the admin console supports only the simple query protocol"))
            if frame.type == FrontendType.sync { out.writeReadyForQuery(.idle) }
        }
        return out
    }

    private func run(_ sql: String, into out: inout ByteBuffer) {
        let statements = sql.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        if statements.isEmpty {
            out.writeEmptyBackendMessage(BackendType.emptyQueryResponse)
            return
        }
        for statement in statements {
            do {
                try execute(statement, into: &out)
            } catch let error as ConsoleError {
                out.writeErrorResponse(ErrorFields(sqlState: error.sqlState, message: error.message))
                return
            } catch {
                out.writeErrorResponse(ErrorFields(sqlState: "XX000", message: "\(error)"))
                return
            }
        }
    }

    struct ConsoleError: Error {
        var sqlState: String
        var message: String
    }

    private func execute(_ statement: String, into out: inout ByteBuffer) throws {
        let words = statement.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        guard let verb = words.first?.uppercased() else { return }
        switch verb {
        case "SHOW":
            guard words.count >= 2 else { throw ConsoleError(sqlState: "42601", message: "SHOW needs an argument") }
            let table = try ConsoleTables.table(named: words[1].uppercased(), runtime: runtime)
            table.write(into: &out, tag: "SHOW")
        default:
            guard client.isAdmin else {
                throw ConsoleError(sqlState: "42501", message: "admin access needed")
            }
            try ConsoleCommands.run(verb: verb, arguments: Array(words.dropFirst()), runtime: runtime, into: &out)
        }
    }
}

/// Version strings shared by `--version`, SHOW VERSION and the console's server_version.
public enum PGRelayVersion {
    public static let version = "0.1.0"
    public static let line = "pgrelay \(version)"
    static let serverVersion = "1.25.2/pgrelay \(version)"
}
