import NIOCore
import PGWire

/// Authenticates a client against the proxy's own user list, as PostgreSQL would: asks for the
/// method the configuration requires, checks the answer, and on SCRAM keeps the keys it recovers
/// so the proxy can log in to PostgreSQL with them later. Pure: fed PasswordMessage bodies.
public struct ClientAuthMachine {
    public enum Outcome {
        /// Send this authentication request and wait for the client's answer.
        case send(ByteBuffer)
        /// The client is who it says. `prelude` (SASLFinal after SCRAM) goes out before
        /// AuthenticationOk; `scramKeys` is set after a SCRAM login against a SCRAM secret.
        case authenticated(prelude: ByteBuffer?, scramKeys: SCRAMCredential?)
        /// Refuse the login with this error (then close).
        case reject(ErrorFields)
    }

    private enum Step {
        case notStarted
        case awaitingCleartext
        case awaitingMD5(salt: [UInt8])
        case awaitingSASLInitial
        case awaitingSASLFinal(SCRAMServerExchange)
        case done
    }

    private let method: AuthType
    private let user: String
    private let lookup: UserLookup
    private var secret: StoredSecret? { lookup.secret }
    private let scramIterations: Int
    private var step: Step = .notStarted
    private let allocator = ByteBufferAllocator()

    /// - Parameters:
    ///   - lookup: what the proxy knows of the user (``UserLookup``): an unknown user still goes
    ///     through the exchange, so that it cannot be told from a wrong password.
    ///   - scramIterations: `scram_iterations`, for the SCRAM secret built from a plain password.
    public init(method: AuthType, user: String, lookup: UserLookup,
                scramIterations: Int = SCRAMServerExchange.defaultIterations) {
        self.method = method
        self.user = user
        self.lookup = lookup
        self.scramIterations = scramIterations
    }

    /// A user listed with `secret`, or (nil) an unknown one.
    public init(method: AuthType, user: String, secret: StoredSecret?,
                scramIterations: Int = SCRAMServerExchange.defaultIterations) {
        self.init(method: method, user: user, lookup: secret.map(UserLookup.listed) ?? .unknown, scramIterations: scramIterations)
    }

    public static func passwordFailed(user: String) -> ErrorFields {
        ErrorFields(severity: "FATAL", sqlState: "28P01", message: "password authentication failed for user \"\(user)\"")
    }

    /// A failed SCRAM exchange, in PgBouncer's words (also for an unknown user: the same answer).
    public static let saslFailed = ErrorFields(severity: "FATAL", sqlState: "28P01", message: "SASL authentication failed")

    /// `auth_type = trust` for a user neither in the auth_file nor found by auth_query.
    public static let trustFailed = ErrorFields(severity: "FATAL", sqlState: "28000", message: "\"trust\" authentication failed")

    /// auth_query found no such role.
    public static let noSuchUser = ErrorFields(severity: "FATAL", sqlState: "28000", message: "no such user")

    public mutating func start() -> Outcome {
        if method != .any, lookup == .notFound {
            step = .done
            return .reject(Self.noSuchUser)
        }
        switch effectiveMethod {
        case .trust:
            step = .done
            guard lookup.isKnown else { return .reject(Self.trustFailed) }
            return .authenticated(prelude: nil, scramKeys: nil)
        case .any:
            step = .done
            return .authenticated(prelude: nil, scramKeys: nil)
        case .plain:
            step = .awaitingCleartext
            return .send(request(.cleartextPassword))
        case .md5:
            let salt = (0..<4).map { _ in UInt8.random(in: 0...255) }
            step = .awaitingMD5(salt: salt)
            return .send(request(.md5Password(salt: salt)))
        case .scramSHA256:
            step = .awaitingSASLInitial
            return .send(request(.sasl(mechanisms: ["SCRAM-SHA-256"])))
        default:
            step = .done
            return .reject(ErrorFields(severity: "FATAL", sqlState: "28000",
                                       message: "authentication method \"\(method.rawValue)\" is not supported for this connection"))
        }
    }

    /// md5 falls back to SCRAM for users whose secret is SCRAM, as PgBouncer does.
    private var effectiveMethod: AuthType {
        if method == .md5, case .scram? = secret { return .scramSHA256 }
        return method
    }

    public mutating func receive(password body: ByteBuffer) -> Outcome {
        var body = body
        switch step {
        case .awaitingCleartext:
            step = .done
            guard let password = body.readNullTerminatedString() else { return protocolViolation() }
            // PostgreSQL never accepts an empty password, whatever is stored.
            guard !password.isEmpty, Self.matches(password: password, secret: secret, user: user) else {
                return .reject(Self.passwordFailed(user: user))
            }
            return .authenticated(prelude: nil, scramKeys: nil)
        case .awaitingMD5(let salt):
            step = .done
            guard let response = body.readNullTerminatedString() else { return protocolViolation() }
            guard let secret, MD5Password.verify(clientResponse: response, secret: secret, user: user, salt: salt) else {
                return .reject(Self.passwordFailed(user: user))
            }
            return .authenticated(prelude: nil, scramKeys: nil)
        case .awaitingSASLInitial:
            guard let mechanism = body.readNullTerminatedString(), let length = body.readInteger(as: Int32.self),
                  length >= 0, let data = body.readBytes(length: Int(length))
            else { step = .done; return protocolViolation() }
            guard mechanism == "SCRAM-SHA-256" else {
                step = .done
                return .reject(ErrorFields(severity: "FATAL", sqlState: "08P01",
                                           message: "client selected an invalid SASL authentication mechanism"))
            }
            do {
                var exchange = try SCRAMServerExchange(username: user, secret: secret, iterations: scramIterations)
                let serverFirst = try exchange.receiveClientFirst(data)
                step = .awaitingSASLFinal(exchange)
                return .send(request(.saslContinue(data: serverFirst)))
            } catch {
                step = .done
                return .reject(rejection(for: error))
            }
        case .awaitingSASLFinal(var exchange):
            step = .done
            guard let data = body.readBytes(length: body.readableBytes) else { return protocolViolation() }
            do {
                let serverFinal = try exchange.receiveClientFinal(data)
                var keys: SCRAMCredential?
                if case .keys? = exchange.passthroughCredential { keys = exchange.passthroughCredential }
                return .authenticated(prelude: request(.saslFinal(data: serverFinal)), scramKeys: keys)
            } catch {
                return .reject(rejection(for: error))
            }
        case .notStarted, .done:
            step = .done
            return protocolViolation()
        }
    }

    private func request(_ request: AuthenticationRequest) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 32)
        buffer.writeAuthenticationRequest(request)
        return buffer
    }

    /// Only a proof that does not match (or an unknown user) is a failed login (28P01); a
    /// malformed SCRAM message is a protocol violation (08P01) in PostgreSQL, and an unsupported
    /// request (an authorization identity) is refused as such.
    private func rejection(for error: Error) -> ErrorFields {
        guard let authError = error as? AuthError else { return Self.saslFailed }
        if case .wrongPassword = authError { return Self.saslFailed }
        return ErrorFields(severity: "FATAL", sqlState: authError.sqlState, message: authError.message, detail: authError.detail)
    }

    private func protocolViolation() -> Outcome {
        .reject(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "invalid password packet"))
    }

    static func matches(password: String, secret: StoredSecret?, user: String) -> Bool {
        switch secret {
        case .plain(let expected)?: return constantTimeEquals(Array(password.utf8), Array(expected.utf8))
        case .md5(let expected)?:
            return constantTimeEquals(Array(MD5Password.hash(password: password, user: user).utf8), Array(expected.utf8))
        case .scram(let scram)?:
            guard let candidate = try? SCRAMSecret.make(password: password, salt: scram.salt, iterations: scram.iterations) else {
                return false
            }
            return constantTimeEquals(candidate.storedKey, scram.storedKey)
        case nil: return false
        }
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
