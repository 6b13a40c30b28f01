/// One admin console command, parsed. SHOW subjects are upper-cased; database names keep their
/// spelling (PgBouncer compares them case-sensitively too).
enum ConsoleCommand: Equatable, Sendable {
    case show(String)
    /// SHOW HELP: the usage text, sent as a notice (as PgBouncer does), no rows.
    case help
    case reload
    case pause(database: String?)
    case resume(database: String?)
    case suspend
    case disable(database: String)
    case enable(database: String)
    case reconnect(database: String?)
    case kill(database: String?)
    case killClient(id: UInt64)
    case waitClose(database: String?)
    case set(key: String, value: String)
    case shutdown(ShutdownMode)

    /// The SHOW subjects that answer with a table: PgBouncer 1.25.2's, then ours.
    static let showSubjects: Set<String> = [
        "POOLS", "STATS", "STATS_TOTALS", "STATS_AVERAGES", "TOTALS", "SERVERS", "CLIENTS", "DATABASES", "USERS",
        "CONFIG", "LISTS", "MEM", "STATE", "FDS", "VERSION", "SOCKETS", "ACTIVE_SOCKETS", "DNS_HOSTS", "DNS_ZONES",
        "PEERS", "PEER_POOLS",
        "QUERIES", "HEALTH", "ROUTES", "RATE_LIMITS",
    ]

    /// Whether a stats user may run it (SHOW only).
    var isReadOnly: Bool {
        switch self {
        case .show, .help: return true
        default: return false
        }
    }

    /// The CommandComplete tag PgBouncer sends for it.
    var tag: String {
        switch self {
        case .show, .help: return "SHOW"
        case .reload: return "RELOAD"
        case .pause: return "PAUSE"
        case .resume: return "RESUME"
        case .suspend: return "SUSPEND"
        case .disable: return "DISABLE"
        case .enable: return "ENABLE"
        case .reconnect: return "RECONNECT"
        case .kill: return "KILL"
        case .killClient: return "KILL_CLIENT"
        case .waitClose: return "WAIT_CLOSE"
        case .set(let key, let value): return "SET \(key)=\(value)"
        case .shutdown: return "SHUTDOWN"
        }
    }
}

/// A console command that could not be parsed or run. The message goes to the client as is: it
/// names the command, never a secret.
/// An error a console command answers with. As PgBouncer, every refusal is 08P01 (what its
/// admin_error sends, and what runbooks and its test suite check), except a failed RELOAD (F0000).
struct ConsoleError: Error, Equatable {
    var sqlState: String = "08P01"
    var message: String
    var detail: String?
    /// The command named something that does not exist (the HTTP API answers 404).
    var isNotFound = false

    static func noSuchDatabase(_ name: String) -> ConsoleError {
        ConsoleError(message: "no such database: \(name)", isNotFound: true)
    }

    /// A command the console does not understand. PgBouncer answers these with 08P01
    /// (protocol_violation), and scripts that check the SQLSTATE expect that.
    static func syntax(_ message: String) -> ConsoleError { ConsoleError(sqlState: "08P01", message: message) }
}

/// Turns console SQL text into commands. Pure: unit tested without sockets.
enum ConsoleCommandParser {
    /// Longest statement text looked at; longer input is refused rather than scanned.
    static let maxStatementLength = 4096

    /// Splits a Query's text on `;` outside quotes; blank statements are dropped.
    static func statements(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var quote: Character?
        for character in text {
            if let open = quote {
                if character == open { quote = nil }
                current.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                current.append(character)
            } else if character == ";" {
                result.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        result.append(current)
        return result.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    /// Parses one statement (without its `;`).
    static func parse(_ statement: String) throws -> ConsoleCommand {
        guard statement.utf8.count <= maxStatementLength else {
            throw ConsoleError.syntax("console command too long")
        }
        var tokens = try tokenize(statement)
        guard let first = tokens.first, case .word(let verbWord) = first else {
            throw ConsoleError.syntax("invalid command")
        }
        tokens.removeFirst()
        let verb = verbWord.uppercased()
        switch verb {
        case "SHOW":
            let subject = try singleArgument(tokens, verb: verb)?.uppercased()
            guard let subject else { throw ConsoleError.syntax("SHOW needs an argument, e.g. SHOW POOLS; use SHOW HELP") }
            if subject == "HELP" { return .help }
            guard ConsoleCommand.showSubjects.contains(subject) else {
                throw ConsoleError.syntax("unknown SHOW command: \(bounded(subject)), use SHOW HELP")
            }
            return .show(subject)
        case "SET":
            return try parseSet(tokens)
        case "RELOAD": try noArgument(tokens, verb: verb); return .reload
        case "SUSPEND": try noArgument(tokens, verb: verb); return .suspend
        case "PAUSE": return .pause(database: try singleArgument(tokens, verb: verb))
        case "RESUME": return .resume(database: try singleArgument(tokens, verb: verb))
        case "RECONNECT": return .reconnect(database: try singleArgument(tokens, verb: verb))
        case "KILL": return .kill(database: try singleArgument(tokens, verb: verb))
        case "WAIT_CLOSE": return .waitClose(database: try singleArgument(tokens, verb: verb))
        case "DISABLE", "ENABLE":
            guard let database = try singleArgument(tokens, verb: verb) else {
                throw ConsoleError.syntax("\(verb) needs a database name")
            }
            return verb == "DISABLE" ? .disable(database: database) : .enable(database: database)
        case "KILL_CLIENT":
            guard let argument = try singleArgument(tokens, verb: verb) else {
                throw ConsoleError.syntax("KILL_CLIENT needs a client id (the id column of SHOW CLIENTS)")
            }
            // PgBouncer's words for an id that is not one.
            guard let id = UInt64(argument) else { throw ConsoleError.syntax("invalid client pointer supplied") }
            return .killClient(id: id)
        case "SHUTDOWN":
            switch try singleArgument(tokens, verb: verb)?.uppercased() {
            case nil: return .shutdown(.immediate)
            case "WAIT_FOR_SERVERS": return .shutdown(.waitForServers)
            case "WAIT_FOR_CLIENTS": return .shutdown(.waitForClients)
            case let other?: throw ConsoleError.syntax("unknown SHUTDOWN mode: \(bounded(other))")
            }
        default:
            throw ConsoleError.syntax("unknown command: \(bounded(verb)), use SHOW HELP")
        }
    }

    // MARK: tokens

    enum Token: Equatable {
        /// A bare word (letters, digits, `_ . - : / *`), or a double-quoted identifier.
        case word(String)
        /// A single-quoted string literal, `''` unescaped.
        case literal(String)
        case equals
    }

    static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        var index = text.startIndex
        func isWordCharacter(_ c: Character) -> Bool {
            c.isLetter || c.isNumber || "_.-:/*".contains(c)
        }
        while index < text.endIndex {
            let c = text[index]
            if c.isWhitespace {
                index = text.index(after: index)
            } else if c == "=" {
                tokens.append(.equals)
                index = text.index(after: index)
            } else if c == "'" || c == "\"" {
                var value = ""
                var cursor = text.index(after: index)
                var closed = false
                while cursor < text.endIndex {
                    let d = text[cursor]
                    cursor = text.index(after: cursor)
                    if d == c {
                        if cursor < text.endIndex, text[cursor] == c {
                            value.append(c)
                            cursor = text.index(after: cursor)
                        } else {
                            closed = true
                            break
                        }
                    } else {
                        value.append(d)
                    }
                }
                guard closed else { throw ConsoleError.syntax("unterminated quoted string") }
                tokens.append(c == "'" ? .literal(value) : .word(value))
                index = cursor
            } else if isWordCharacter(c) {
                var value = ""
                while index < text.endIndex, isWordCharacter(text[index]) {
                    value.append(text[index])
                    index = text.index(after: index)
                }
                tokens.append(.word(value))
            } else {
                throw ConsoleError.syntax("unexpected character \(bounded(String(c)).debugDescription) in console command")
            }
        }
        return tokens
    }

    private static func singleArgument(_ tokens: [Token], verb: String) throws -> String? {
        switch tokens.count {
        case 0: return nil
        case 1:
            guard case .word(let word) = tokens[0] else { throw ConsoleError.syntax("\(verb): unexpected argument") }
            return word
        default: throw ConsoleError.syntax("\(verb) takes at most one argument")
        }
    }

    private static func noArgument(_ tokens: [Token], verb: String) throws {
        guard tokens.isEmpty else { throw ConsoleError.syntax("\(verb) takes no argument") }
    }

    private static func parseSet(_ tokens: [Token]) throws -> ConsoleCommand {
        guard tokens.count == 3, case .word(let key) = tokens[0] else {
            throw ConsoleError.syntax("SET needs the form: SET key = value")
        }
        let separatorOK: Bool
        switch tokens[1] {
        case .equals: separatorOK = true
        case .word(let word): separatorOK = word.uppercased() == "TO"
        case .literal: separatorOK = false
        }
        guard separatorOK else { throw ConsoleError.syntax("SET needs the form: SET key = value") }
        switch tokens[2] {
        case .word(let value), .literal(let value): return .set(key: key.lowercased(), value: value)
        case .equals: throw ConsoleError.syntax("SET needs the form: SET key = value")
        }
    }

    /// User text echoed in an error message, cut short: at most 64 Unicode scalars (one
    /// character may hold any number of combining marks, so characters are no bound).
    private static func bounded(_ text: String) -> String {
        guard text.unicodeScalars.count > 64 else { return text }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: text.unicodeScalars.prefix(64))
        return String(kept) + "..."
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
