/// A SCRAM-SHA-256 verifier as PostgreSQL stores it in `pg_authid.rolpassword`:
/// `SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>`.
///
/// It lets the holder check a client's proof and prove itself to the client, but not compute a
/// proof of its own: that needs the ClientKey, which only the password (or a verified client
/// proof) yields. Its description is redacted: the secret allows offline password guessing.
public struct SCRAMSecret: Equatable, Sendable {
    /// The scheme prefix of the text form.
    public static let scheme = "SCRAM-SHA-256"

    /// PBKDF2 rounds used to derive SaltedPassword.
    public let iterations: Int
    /// The salt given to PBKDF2.
    public let salt: [UInt8]
    /// StoredKey = H(ClientKey).
    public let storedKey: [UInt8]
    /// ServerKey = HMAC(SaltedPassword, "Server Key").
    public let serverKey: [UInt8]

    /// Builds a secret from its parts; keys must be 32 bytes, iterations positive, salt non-empty.
    public init?(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        guard iterations > 0, iterations <= Int(Int32.max), !salt.isEmpty,
            storedKey.count == SCRAMPrimitives.keyLength, serverKey.count == SCRAMPrimitives.keyLength
        else { return nil }
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Parses the text form; nil when `text` is not a well-formed SCRAM-SHA-256 secret
    /// (the same checks as PostgreSQL's `parse_scram_secret`).
    public init?(parsing text: String) {
        let schemeAndRest = text.split(separator: "$", omittingEmptySubsequences: false)
        guard schemeAndRest.count == 3, schemeAndRest[0] == Self.scheme else { return nil }
        let iterationsAndSalt = schemeAndRest[1].split(separator: ":", omittingEmptySubsequences: false)
        let keys = schemeAndRest[2].split(separator: ":", omittingEmptySubsequences: false)
        guard iterationsAndSalt.count == 2, keys.count == 2,
            iterationsAndSalt[0].allSatisfy(\.isASCII),
            let iterations = Int(iterationsAndSalt[0]),
            let salt = SCRAMPrimitives.decodeBase64(iterationsAndSalt[1]),
            let storedKey = SCRAMPrimitives.decodeBase64(keys[0]),
            let serverKey = SCRAMPrimitives.decodeBase64(keys[1])
        else { return nil }
        self.init(iterations: iterations, salt: salt, storedKey: storedKey, serverKey: serverKey)
    }

    /// The text form PostgreSQL stores and PgBouncer's auth_file accepts.
    public var formatted: String {
        "\(Self.scheme)$\(iterations):\(SCRAMPrimitives.base64(salt))$"
            + "\(SCRAMPrimitives.base64(storedKey)):\(SCRAMPrimitives.base64(serverKey))"
    }

    /// Derives the secret for `password` (SASLprep-normalized first, as PostgreSQL does).
    ///
    /// - Throws: ``AuthError/protocolViolation(detail:)`` for an empty salt or iterations outside
    ///   1...``PBKDF2Cache/maximumIterations``.
    public static func make(
        password: String, salt: [UInt8], iterations: Int, cache: PBKDF2Cache = .shared
    ) throws -> SCRAMSecret {
        let salted = try cache.saltedPassword(
            password: SASLprep.prepare(password), salt: salt, iterations: iterations)
        return make(saltedPassword: salted, salt: salt, iterations: iterations)
    }

    /// Builds the secret from an already derived SaltedPassword.
    static func make(saltedPassword: [UInt8], salt: [UInt8], iterations: Int) -> SCRAMSecret {
        let clientKey = SCRAMPrimitives.clientKey(saltedPassword: saltedPassword)
        // The parts are valid by construction: 32-byte keys, checked salt and iterations.
        return SCRAMSecret(
            unchecked: iterations, salt: salt, storedKey: SCRAMPrimitives.hash(clientKey),
            serverKey: SCRAMPrimitives.serverKey(saltedPassword: saltedPassword))
    }

    private init(unchecked iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }
}

extension SCRAMSecret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The scheme and iteration count, never salt or keys.
    public var description: String { "SCRAM-SHA-256$\(iterations):<redacted>" }
    /// Same as `description`.
    public var debugDescription: String { description }
    /// Keeps secrets out of `dump` and debuggers.
    public var customMirror: Mirror { Mirror(self, children: ["iterations": iterations]) }
}
