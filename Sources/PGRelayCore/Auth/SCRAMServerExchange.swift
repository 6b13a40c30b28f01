import Crypto

/// The proxy's side of SCRAM-SHA-256 towards a client, as PostgreSQL's `auth-scram.c` does it.
///
/// Usage: send AuthenticationSASL offering `SCRAM-SHA-256`, pass the client's first SASL payload to
/// ``receiveClientFirst(_:)`` and send the result as AuthenticationSASLContinue, pass the next
/// payload to ``receiveClientFinal(_:)`` and send the result as AuthenticationSASLFinal. Any thrown
/// ``AuthError`` becomes an ErrorResponse and ends the login; the exchange is then unusable.
///
/// Unknown users, users whose secret is an MD5 hash and users with an empty password get a
/// "doomed" exchange, as in PostgreSQL (which never accepts an empty password):
/// a plausible salt (stable per user name) is offered and the login fails at the end with the same
/// ``AuthError/wrongPassword(user:)``, so a client cannot tell whether the user exists.
public struct SCRAMServerExchange: Sendable {
    /// The SASL mechanism name to offer in AuthenticationSASL.
    public static let mechanism = "SCRAM-SHA-256"

    /// Iterations used when the stored secret is a plain password, unless told otherwise
    /// (PostgreSQL's and PgBouncer's default).
    public static let defaultIterations = 4096

    private enum State: Sendable {
        case awaitingClientFirst
        case awaitingClientFinal(ClientFirst)
        case succeeded
        case failed
    }

    /// What the client-first message left to check in the client-final message.
    private struct ClientFirst: Sendable {
        /// base64 of the GS2 header the client sent (`n,,` or `y,,`): the expected `c=`.
        let expectedChannelBinding: String
        let clientFirstBare: Substring
        let serverFirst: String
        let combinedNonce: Substring
    }

    /// The user name from the startup packet; the `n=` of the SCRAM message is ignored, as in PostgreSQL.
    public let username: String
    private let secret: SCRAMSecret
    private let plainPassword: String?
    private let isDoomed: Bool
    private let serverNonce: String
    private var state = State.awaitingClientFirst

    /// After a successful exchange: the client's ClientKey, recovered as ClientProof XOR
    /// ClientSignature and verified by H(ClientKey) == StoredKey. With the secret's ``serverKey``
    /// it lets the proxy log in to a server holding the same secret, without the password.
    public private(set) var recoveredClientKey: [UInt8]?

    /// - Parameters:
    ///   - username: the user from the startup packet, used in error messages.
    ///   - secret: the stored secret, or nil when the user is unknown. A plain password is turned
    ///     into a SCRAM secret with a per-process salt and `iterations` (cached in `cache`).
    ///     An MD5 hash cannot serve SCRAM, and an empty password is never accepted: the exchange
    ///     is then doomed to fail, as in PostgreSQL.
    ///   - nonce: the server's part of the nonce; random (18 bytes, base64) unless a test injects one.
    ///     It must consist of printable ASCII characters other than `,`.
    ///   - iterations: the iteration count of the secret built from a plain password (and of the
    ///     fake one of a doomed exchange, so that both look alike): `scram_iterations`.
    ///   - cache: where SaltedPassword derivations for plain passwords are cached.
    /// - Throws: ``AuthError/protocolViolation(detail:)`` for an invalid injected nonce, or
    ///   iterations outside 1...``PBKDF2Cache/maximumIterations`` with a plain password.
    public init(username: String, secret: StoredSecret?, nonce: String? = nil, iterations: Int = defaultIterations,
                cache: PBKDF2Cache = .shared) throws {
        self.username = username
        if let nonce {
            guard SCRAMPrimitives.isValidNonce(Substring(nonce)) else {
                throw AuthError.protocolViolation(detail: "invalid server nonce")
            }
            self.serverNonce = nonce
        } else {
            self.serverNonce = SCRAMPrimitives.makeNonce()
        }
        switch secret {
        case .scram(let scram):
            self.secret = scram
            self.plainPassword = nil
            self.isDoomed = false
        case .plain(let password) where !password.isEmpty:
            // Per user, so that two users sharing a password do not show the same salt.
            let salt = ProcessSeed.salt("plain-password-salt", Array(username.utf8) + [0] + Array(password.utf8))
            self.secret = try SCRAMSecret.make(
                password: password, salt: salt, iterations: iterations, cache: cache)
            self.plainPassword = password
            self.isDoomed = false
        case .plain, .md5, nil:
            self.secret = Self.mockSecret(username: username, iterations: iterations)
            self.plainPassword = nil
            self.isDoomed = true
        }
    }

    /// The ServerKey of the secret this exchange verified against.
    public var serverKey: [UInt8] { secret.serverKey }

    /// Whether ``receiveClientFinal(_:)`` has accepted the client's proof.
    public var isComplete: Bool {
        if case .succeeded = state { return true }
        return false
    }

    /// After success, how the proxy can log in to a server as this user over SCRAM: the password
    /// when the auth_file holds it, otherwise the recovered keys (valid only for a server storing
    /// the same SCRAM secret). Nil before success.
    public var passthroughCredential: SCRAMCredential? {
        guard isComplete else { return nil }
        if let plainPassword { return .password(plainPassword) }
        guard let recoveredClientKey else { return nil }
        return .keys(
            clientKey: recoveredClientKey, serverKey: secret.serverKey,
            salt: secret.salt, iterations: secret.iterations)
    }

    /// Takes the client-first-message (the SASLInitialResponse payload) and returns the
    /// server-first-message to send in AuthenticationSASLContinue.
    public mutating func receiveClientFirst(_ message: [UInt8]) throws -> [UInt8] {
        guard case .awaitingClientFirst = state else {
            state = .failed
            throw AuthError.protocolViolation(detail: "unexpected SCRAM client-first-message")
        }
        state = .failed  // until proven otherwise
        let name = "client-first-message"
        let text = try SCRAMAttributes.text(of: message, messageName: name)[...]
        let (header, bare) = try Self.splitGS2Header(text)
        var attributes = try SCRAMAttributes(bare, messageName: name)
        if attributes.nextKey == "m" {
            throw AuthError.unsupported(detail: "client requires an unsupported SCRAM extension")
        }
        _ = try attributes.require("n", in: name)
        let clientNonce = try attributes.require("r", in: name)
        guard SCRAMPrimitives.isValidNonce(clientNonce) else {
            throw AuthError.protocolViolation(detail: "invalid nonce in \(name)")
        }
        // Further attributes are extensions, which PostgreSQL also skips.
        let combinedNonce = clientNonce + serverNonce
        let serverFirst = "r=\(combinedNonce),s=\(SCRAMPrimitives.base64(secret.salt)),i=\(secret.iterations)"
        state = .awaitingClientFinal(
            ClientFirst(
                expectedChannelBinding: SCRAMPrimitives.base64(Array(header.utf8)),
                clientFirstBare: bare, serverFirst: serverFirst, combinedNonce: combinedNonce[...]))
        return Array(serverFirst.utf8)
    }

    /// Takes the client-final-message (the SASLResponse payload), checks channel binding, nonce and
    /// proof, and returns the server-final-message (`v=...`) for AuthenticationSASLFinal.
    ///
    /// - Throws: ``AuthError/wrongPassword(user:)`` when the proof does not match.
    public mutating func receiveClientFinal(_ message: [UInt8]) throws -> [UInt8] {
        guard case .awaitingClientFinal(let first) = state else {
            state = .failed
            throw AuthError.protocolViolation(detail: "unexpected SCRAM client-final-message")
        }
        state = .failed
        let name = "client-final-message"
        let text = try SCRAMAttributes.text(of: message, messageName: name)[...]
        var attributes = try SCRAMAttributes(text, messageName: name)
        let channelBinding = try attributes.require("c", in: name)
        guard channelBinding == first.expectedChannelBinding else {
            throw AuthError.protocolViolation(
                detail: "unexpected SCRAM channel-binding attribute in client-final-message")
        }
        guard try attributes.require("r", in: name) == first.combinedNonce else {
            throw AuthError.protocolViolation(detail: "SCRAM nonce mismatch in client-final-message")
        }
        while let key = attributes.nextKey, key != "p" {
            attributes.skip()  // extensions
        }
        let encodedProof = try attributes.require("p", in: name)
        guard attributes.isAtEnd else {
            throw AuthError.protocolViolation(detail: "garbage at end of client-final-message")
        }
        guard let proof = SCRAMPrimitives.decodeBase64(encodedProof),
            proof.count == SCRAMPrimitives.keyLength
        else {
            throw AuthError.protocolViolation(detail: "invalid ClientProof in client-final-message")
        }
        // The proof is the last attribute, so the part signed is everything before ",p=".
        let withoutProof = text[..<encodedProof.startIndex].dropLast(3)
        let authMessage = Array("\(first.clientFirstBare),\(first.serverFirst),\(withoutProof)".utf8)
        let clientSignature = SCRAMPrimitives.hmac(key: secret.storedKey, authMessage)
        let clientKey = SCRAMPrimitives.xor(proof, clientSignature)
        guard !isDoomed, SCRAMPrimitives.constantTimeEqual(SCRAMPrimitives.hash(clientKey), secret.storedKey) else {
            throw AuthError.wrongPassword(user: username)
        }
        recoveredClientKey = clientKey
        state = .succeeded
        let serverSignature = SCRAMPrimitives.hmac(key: secret.serverKey, authMessage)
        return Array("v=\(SCRAMPrimitives.base64(serverSignature))".utf8)
    }

    /// Splits `gs2-header` (`n,,` or `y,,`) from client-first-message-bare.
    private static func splitGS2Header(_ text: Substring) throws -> (header: Substring, bare: Substring) {
        switch text.first {
        case "n", "y":
            break
        case "p":
            throw AuthError.protocolViolation(
                detail: "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM "
                    + "message includes channel binding data (the proxy does not offer SCRAM-SHA-256-PLUS)")
        default:
            throw AuthError.protocolViolation(detail: "unexpected channel-binding flag in client-first-message")
        }
        let afterFlag = text.dropFirst()
        guard afterFlag.first == "," else {
            throw AuthError.protocolViolation(detail: "comma expected after channel-binding flag")
        }
        let afterComma = afterFlag.dropFirst()
        if afterComma.hasPrefix("a=") {
            throw AuthError.unsupported(detail: "client uses authorization identity, but it is not supported")
        }
        guard afterComma.first == "," else {
            throw AuthError.protocolViolation(detail: "unexpected attribute in client-first-message")
        }
        let bare = afterComma.dropFirst()
        return (text[text.startIndex..<bare.startIndex], bare)
    }

    /// A deterministic-per-user fake secret, so a doomed exchange looks like a real one.
    private static func mockSecret(username: String, iterations: Int) -> SCRAMSecret {
        let user = Array(username.utf8)
        return SCRAMSecret.make(
            saltedPassword: ProcessSeed.derive("mock-salted-password", user),
            salt: ProcessSeed.salt("mock-salt", user), iterations: iterations)
    }
}

/// Values derived from a random per-process seed: stable for a given input while the process
/// lives (so caches hit and mock salts look real), unpredictable across processes.
enum ProcessSeed {
    private static let seed = SCRAMPrimitives.randomBytes(32)

    /// HMAC(seed, purpose || 0 || input): 32 bytes.
    static func derive(_ purpose: String, _ input: [UInt8]) -> [UInt8] {
        SCRAMPrimitives.hmac(key: seed, Array(purpose.utf8) + [0] + input)
    }

    /// A 16-byte salt (PostgreSQL's salt length) for `input`.
    static func salt(_ purpose: String, _ input: [UInt8]) -> [UInt8] {
        Array(derive(purpose, input).prefix(16))
    }
}
