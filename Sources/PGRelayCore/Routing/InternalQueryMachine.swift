import NIOCore
import PGWire

/// Rows of a query the proxy ran for itself, all values in text format.
public struct QueryResult: Sendable, Equatable {
    /// Column names, in order (empty for a statement that returns no rows).
    public var columns: [String]
    /// One array per row, one value per column; nil is SQL NULL.
    public var rows: [[String?]]
    /// The CommandComplete tag (`SELECT 1`); empty for an empty query.
    public var commandTag: String

    public init(columns: [String], rows: [[String?]], commandTag: String) {
        self.columns = columns
        self.rows = rows
        self.commandTag = commandTag
    }

    /// The value of `column` in row `row`; nil when the value is NULL or there is no such cell.
    public func value(row: Int, column: String) -> String? {
        guard rows.indices.contains(row), let index = columns.firstIndex(of: column),
              rows[row].indices.contains(index) else { return nil }
        return rows[row][index]
    }
}

/// Why a query the proxy ran for itself failed. Descriptions carry no SQL text or secrets; a
/// server's error is passed on with its SQLSTATE, message, detail and hint.
public enum InternalQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// TCP or Unix-socket connect failed.
    case connectFailed(address: String, reason: String)
    /// The whole exchange (connect, login, query) took longer than allowed.
    case timedOut(address: String, seconds: Double)
    /// The server refused the login (or the login could not be answered).
    case loginFailed(ErrorFields)
    /// The server answered the query with an ErrorResponse.
    case queryFailed(ErrorFields)
    /// The server sent something the protocol does not allow here.
    case protocolViolation(String)
    /// The connection closed before the answer was complete.
    case connectionClosed
    /// The query returned more rows than the caller accepts.
    case tooManyRows(limit: Int)
    /// The request itself cannot be sent (too many parameters).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .connectFailed(let address, let reason): return "could not connect to \(address): \(reason)"
        case .timedOut(let address, let seconds): return "no answer from \(address) within \(seconds) s"
        case .loginFailed(let fields): return "login failed: " + Self.describe(fields)
        case .queryFailed(let fields): return "query failed: " + Self.describe(fields)
        case .protocolViolation(let reason): return "protocol violation: \(reason)"
        case .connectionClosed: return "server closed the connection"
        case .tooManyRows(let limit): return "query returned more than \(limit) rows"
        case .invalidRequest(let reason): return "invalid request: \(reason)"
        }
    }

    /// The server's ErrorResponse, when the failure came from one.
    public var serverError: ErrorFields? {
        switch self {
        case .loginFailed(let fields), .queryFailed(let fields): return fields
        default: return nil
        }
    }

    private static func describe(_ fields: ErrorFields) -> String {
        var text = "\(fields.severity) \(fields.sqlState ?? "?????"): \(fields.message)"
        if let detail = fields["D"] { text += " (detail: \(detail))" }
        if let hint = fields["H"] { text += " (hint: \(hint))" }
        return text
    }
}

/// One connection's worth of protocol for a query the proxy runs itself: login (through
/// ``ServerLoginMachine``), then Parse/Bind/Describe/Execute/Sync with text parameters sent apart
/// from the SQL, then rows until ReadyForQuery. Sans-IO: fed frames, it says what to send.
public struct InternalQueryMachine {
    public enum Action: Equatable {
        /// Write these bytes and keep reading.
        case send(ByteBuffer)
        /// Keep reading.
        case wait
        /// The query finished; close the connection (politely, with Terminate).
        case done(QueryResult)
        /// The exchange failed; close the connection.
        case fail(InternalQueryError)
    }

    private enum State {
        case login(ServerLoginMachine)
        case querying
        case finished
    }

    /// Bound on `parameters.count`: the protocol's Int16 count.
    public static let maximumParameters = Int(Int16.max)

    private var state: State
    private let query: String
    private let parameters: [String?]
    private let maxRows: Int
    private var columns: [String] = []
    private var rows: [[String?]] = []
    private var commandTag: String?
    private var error: ErrorFields?

    /// - Parameters:
    ///   - credentials: how to log in.
    ///   - query: SQL with `$1`, `$2`... placeholders; never spliced with the parameters.
    ///   - parameters: text values for the placeholders; nil is NULL.
    ///   - maxRows: more rows than this fail the query (bounds memory).
    public init(credentials: ServerCredentials, query: String, parameters: [String?] = [], maxRows: Int = 10_000) {
        self.state = .login(ServerLoginMachine(credentials: credentials))
        self.query = query
        self.parameters = parameters
        self.maxRows = max(maxRows, 0)
    }

    /// Checks the request before any connection is opened.
    public func validate() throws {
        guard parameters.count <= Self.maximumParameters else {
            throw InternalQueryError.invalidRequest("\(parameters.count) parameters, at most \(Self.maximumParameters)")
        }
        guard !query.utf8.contains(0), !parameters.contains(where: { $0?.utf8.contains(0) == true }) else {
            throw InternalQueryError.invalidRequest("the query or a parameter contains a NUL byte")
        }
    }

    /// Feeds one message from the server.
    public mutating func receive(_ frame: Frame) -> Action {
        switch state {
        case .finished:
            return .wait
        case .login(var login):
            let message: BackendMessage?
            do {
                message = try BackendMessage.decode(frame)
            } catch {
                return finish(.fail(.protocolViolation("\(error)")))
            }
            guard let message else {
                return finish(.fail(.protocolViolation("unexpected message type \(Self.typeName(frame.type)) during login")))
            }
            switch login.receive(message) {
            case .send(let bytes):
                state = .login(login)
                return .send(bytes)
            case .wait:
                state = .login(login)
                return .wait
            case .fail(let fields):
                return finish(.fail(.loginFailed(fields)))
            case .ready:
                state = .querying
                return .send(queryMessages())
            }
        case .querying:
            do {
                return try receiveQueryMessage(frame)
            } catch let failure as InternalQueryError {
                return finish(.fail(failure))
            } catch {
                return finish(.fail(.protocolViolation("\(error)")))
            }
        }
    }

    /// The connection closed: a failure unless the machine had already finished.
    public mutating func connectionClosed() -> Action {
        if case .finished = state { return .wait }
        return finish(.fail(.connectionClosed))
    }

    private mutating func finish(_ action: Action) -> Action {
        state = .finished
        return action
    }

    private mutating func receiveQueryMessage(_ frame: Frame) throws -> Action {
        var body = frame.body
        switch frame.type {
        case BackendType.rowDescription:
            columns = try Self.decodeRowDescription(&body)
        case BackendType.dataRow:
            // After an error the server sends no rows; rows beyond the limit are refused now, not
            // collected first.
            guard rows.count < maxRows else { throw InternalQueryError.tooManyRows(limit: maxRows) }
            let row = try Self.decodeDataRow(&body)
            guard row.count == columns.count else {
                throw InternalQueryError.protocolViolation("DataRow with \(row.count) values for \(columns.count) columns")
            }
            rows.append(row)
        case BackendType.commandComplete:
            guard let tag = body.readNullTerminatedString() else {
                throw InternalQueryError.protocolViolation("unterminated CommandComplete tag")
            }
            commandTag = tag
        case BackendType.emptyQueryResponse:
            commandTag = ""
        case BackendType.errorResponse:
            if case .errorResponse(let fields)? = try BackendMessage.decode(frame) { error = fields }
        case BackendType.readyForQuery:
            if let error { return finish(.fail(.queryFailed(error))) }
            guard let commandTag else {
                throw InternalQueryError.protocolViolation("ReadyForQuery before the query completed")
            }
            return finish(.done(QueryResult(columns: columns, rows: rows, commandTag: commandTag)))
        case BackendType.parseComplete, BackendType.bindComplete, BackendType.noData,
             BackendType.parameterDescription, BackendType.noticeResponse, BackendType.parameterStatus,
             BackendType.notificationResponse:
            break
        default:
            // COPY, PortalSuspended (Execute asks for all rows) and the rest have no place here.
            throw InternalQueryError.protocolViolation("unexpected message type \(Self.typeName(frame.type)) in a query answer")
        }
        return .wait
    }

    /// Parse, Bind (text parameters, text results), Describe portal, Execute all rows, Sync.
    private func queryMessages() -> ByteBuffer {
        let allocator = ByteBufferAllocator()
        var bindRest = allocator.buffer(capacity: 8 + parameters.reduce(0) { $0 + 4 + ($1?.utf8.count ?? 0) })
        bindRest.writeInteger(Int16(0)) // no parameter format codes: all text
        bindRest.writeInteger(Int16(parameters.count))
        for parameter in parameters {
            if let parameter {
                bindRest.writeInteger(Int32(parameter.utf8.count))
                bindRest.writeString(parameter)
            } else {
                bindRest.writeInteger(Int32(-1))
            }
        }
        bindRest.writeInteger(Int16(0)) // no result format codes: all text
        var buffer = allocator.buffer(capacity: query.utf8.count + bindRest.readableBytes + 64)
        buffer.writeFrontendMessage(.parse(.init(name: "", query: query, parameterTypes: [])))
        buffer.writeFrontendMessage(.bind(.init(portal: "", statement: "", remainder: bindRest)))
        buffer.writeFrontendMessage(.describe(.init(kind: .portal, name: "")))
        buffer.writeFrontendMessage(.execute(portal: "", maxRows: 0))
        buffer.writeFrontendMessage(.sync)
        return buffer
    }

    static func decodeRowDescription(_ body: inout ByteBuffer) throws -> [String] {
        guard let count = body.readInteger(as: Int16.self), count >= 0 else {
            throw InternalQueryError.protocolViolation("bad RowDescription column count")
        }
        var names: [String] = []
        names.reserveCapacity(Int(count))
        for _ in 0..<count {
            // name, then table OID (4), attribute (2), type OID (4), length (2), modifier (4), format (2)
            guard let name = body.readNullTerminatedString(), body.readSlice(length: 18) != nil else {
                throw InternalQueryError.protocolViolation("short RowDescription")
            }
            names.append(name)
        }
        return names
    }

    static func decodeDataRow(_ body: inout ByteBuffer) throws -> [String?] {
        guard let count = body.readInteger(as: Int16.self), count >= 0 else {
            throw InternalQueryError.protocolViolation("bad DataRow value count")
        }
        var values: [String?] = []
        values.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let length = body.readInteger(as: Int32.self), length >= -1 else {
                throw InternalQueryError.protocolViolation("bad DataRow value length")
            }
            if length == -1 {
                values.append(nil)
                continue
            }
            guard let value = body.readString(length: Int(length)) else {
                throw InternalQueryError.protocolViolation("DataRow value longer than its message")
            }
            values.append(value)
        }
        return values
    }

    private static func typeName(_ type: UInt8) -> String {
        (32..<127).contains(type) ? "'\(Character(UnicodeScalar(type)))'" : "\(type)"
    }
}
