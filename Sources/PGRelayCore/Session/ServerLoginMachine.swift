import NIOCore
import PGWire

/// The login of one server connection, from the StartupMessage to the first ReadyForQuery:
/// answers whatever authentication the server asks for, then collects ParameterStatus and
/// BackendKeyData. Pure: fed decoded backend messages, it says what to send.
public struct ServerLoginMachine {
    public enum Action: Equatable {
        /// Write these bytes to the server and keep reading.
        case send(ByteBuffer)
        /// Nothing to send; keep reading.
        case wait
        /// ReadyForQuery arrived: the connection is ready for use.
        case ready
        /// Login failed; the error is meant for the clients waiting on this server.
        case fail(ErrorFields)
    }

    private enum State {
        case awaitingAuthentication
        case scram(SCRAMClientExchange)
        case awaitingSCRAMFinal(SCRAMClientExchange)
        case authenticated
        case ready
        case failed
    }

    private var state: State = .awaitingAuthentication
    private let credentials: ServerCredentials
    private let allocator = ByteBufferAllocator()

    public private(set) var parameters: [String: String] = [:]
    public private(set) var backendKey: CancelRequest?

    public init(credentials: ServerCredentials) {
        self.credentials = credentials
    }

    /// The StartupMessage that opens the login.
    public static func startupMessage(user: String, database: String, extra: [(String, String)] = []) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        var parameters: [(name: String, value: String)] = [("user", user), ("database", database)]
        for (name, value) in extra { parameters.append((name, value)) }
        buffer.writeStartupMessage(StartupMessage(parameters: parameters))
        return buffer
    }

    public mutating func receive(_ message: BackendMessage) -> Action {
        switch (state, message) {
        case (_, .errorResponse(let fields)):
            state = .failed
            return .fail(fields)
        case (.awaitingAuthentication, .authentication(let request)):
            return answer(request)
        case (.awaitingAuthentication, .negotiateProtocolVersion), (.awaitingAuthentication, .noticeResponse):
            // A server may name startup options it does not know before asking for a password.
            return .wait
        case (.scram(var exchange), .authentication(.saslContinue(let data))):
            do {
                let final = try exchange.receiveServerFirst(data)
                state = .awaitingSCRAMFinal(exchange)
                var buffer = allocator.buffer(capacity: final.count + 8)
                buffer.writeSASLResponse(data: final)
                return .send(buffer)
            } catch {
                return fail("SCRAM authentication with the server failed: \(error)")
            }
        case (.awaitingSCRAMFinal(var exchange), .authentication(.saslFinal(let data))):
            do {
                try exchange.receiveServerFinal(data)
                state = .awaitingAuthentication
                return .wait
            } catch {
                return fail("SCRAM authentication with the server failed: \(error)")
            }
        case (.authenticated, .parameterStatus(let name, let value)):
            parameters[name] = value
            return .wait
        case (.authenticated, .backendKeyData(let key)):
            backendKey = key
            return .wait
        case (.authenticated, .noticeResponse), (.authenticated, .negotiateProtocolVersion):
            return .wait
        case (.authenticated, .readyForQuery):
            state = .ready
            return .ready
        default:
            return fail("unexpected message from server during login")
        }
    }

    private mutating func answer(_ request: AuthenticationRequest) -> Action {
        var buffer = allocator.buffer(capacity: 64)
        switch request {
        case .ok:
            state = .authenticated
            return .wait
        case .cleartextPassword:
            guard let password = credentials.password else {
                return failWrongPasswordType("the server asked for a cleartext password but none is configured for user \"\(credentials.user)\"")
            }
            buffer.writePasswordMessage(password)
            return .send(buffer)
        case .md5Password(let salt):
            let secret: String
            if let md5 = credentials.md5Secret {
                secret = md5
            } else if let password = credentials.password {
                secret = MD5Password.hash(password: password, user: credentials.user)
            } else {
                return failWrongPasswordType("the server asked for md5 authentication but no password or md5 secret is known for user \"\(credentials.user)\"")
            }
            buffer.writePasswordMessage(MD5Password.response(hashedSecret: secret, salt: salt))
            return .send(buffer)
        case .sasl(let mechanisms):
            guard mechanisms.contains("SCRAM-SHA-256") else {
                return fail("server offers no supported SASL mechanism (\(mechanisms.joined(separator: ", ")))")
            }
            let credential: SCRAMCredential
            if let password = credentials.password {
                credential = .password(password)
            } else if let keys = credentials.scramKeys {
                credential = keys
            } else {
                return failWrongPasswordType("cannot do SCRAM authentication with the server for user \"\(credentials.user)\": no password is configured and no client has logged in with SCRAM yet")
            }
            let exchange: SCRAMClientExchange
            do {
                exchange = try SCRAMClientExchange(username: credentials.user, credential: credential)
            } catch {
                return fail("SCRAM authentication with the server failed: \(error)")
            }
            buffer.writeSASLInitialResponse(mechanism: "SCRAM-SHA-256", data: exchange.clientFirstMessage())
            state = .scram(exchange)
            return .send(buffer)
        case .saslContinue, .saslFinal:
            return fail("unexpected SASL message from server")
        case .unsupported(let code):
            return fail("server asked for an unsupported authentication method (code \(code))")
        }
    }

    /// The credentials the proxy holds cannot answer the method the server asks for: PgBouncer's
    /// message (which its users match), with the particulars as the detail.
    private mutating func failWrongPasswordType(_ detail: String) -> Action {
        state = .failed
        return .fail(ErrorFields(sqlState: "08006", message: "server login failed: wrong password type", detail: detail))
    }

    private mutating func fail(_ message: String) -> Action {
        state = .failed
        return .fail(ErrorFields(sqlState: "08006", message: message))
    }
}
