import Foundation

/// The proxy's side of SCRAM-SHA-256 towards a PostgreSQL server, as libpq's `fe-auth-scram.c`.
///
/// Usage: on AuthenticationSASL listing `SCRAM-SHA-256`, send SASLInitialResponse with
/// ``clientFirstMessage()``; on AuthenticationSASLContinue send SASLResponse with
/// ``receiveServerFirst(_:)``'s result; on AuthenticationSASLFinal call ``receiveServerFinal(_:)``,
/// which verifies that the server knows the secret. Channel binding is not used (`n,,`).
public struct SCRAMClientExchange: Sendable {
    private enum State: Sendable {
        case awaitingServerFirst
        case awaitingServerFinal(expectedServerSignature: [UInt8])
        case succeeded
        case failed
    }

    /// The user name, used in error messages and in the `n=` attribute.
    public let username: String
    private let credential: SCRAMCredential
    private let clientNonce: String
    private let clientFirstBare: String
    private let cache: PBKDF2Cache
    private var state = State.awaitingServerFirst

    /// - Parameters:
    ///   - username: the role to log in as. It also goes into `n=` (escaped as RFC 5802 asks);
    ///     PostgreSQL ignores that attribute and takes the user from the startup packet.
    ///   - credential: the password, or keys recovered from a client's proof.
    ///   - nonce: the client nonce; random (18 bytes, base64) unless a test injects one. It must
    ///     consist of printable ASCII characters other than `,`.
    ///   - cache: where SaltedPassword derivations are cached.
    /// - Throws: ``AuthError/protocolViolation(detail:)`` for an invalid injected nonce.
    public init(username: String, credential: SCRAMCredential, nonce: String? = nil, cache: PBKDF2Cache = .shared) throws {
        if let nonce {
            guard SCRAMPrimitives.isValidNonce(Substring(nonce)) else {
                throw AuthError.protocolViolation(detail: "invalid client nonce")
            }
            self.clientNonce = nonce
        } else {
            self.clientNonce = SCRAMPrimitives.makeNonce()
        }
        self.username = username
        self.credential = credential
        self.cache = cache
        let escapedName = username.replacingOccurrences(of: "=", with: "=3D")
            .replacingOccurrences(of: ",", with: "=2C")
        self.clientFirstBare = "n=\(escapedName),r=\(clientNonce)"
    }

    /// The SASLInitialResponse payload: `n,,n=<user>,r=<nonce>`.
    public func clientFirstMessage() -> [UInt8] {
        Array("n,,\(clientFirstBare)".utf8)
    }

    /// Whether the server's final message has been verified.
    public var isComplete: Bool {
        if case .succeeded = state { return true }
        return false
    }

    /// Takes the server-first-message (AuthenticationSASLContinue payload) and returns the
    /// client-final-message with the proof, for SASLResponse.
    ///
    /// - Throws: ``AuthError/protocolViolation(detail:)`` for a malformed message, a nonce that does
    ///   not extend ours, a bad salt or an iteration count outside 1...10,000,000;
    ///   ``AuthError/passthroughKeysMismatch(user:)`` when logging in with keys whose salt or
    ///   iterations differ from the server's.
    public mutating func receiveServerFirst(_ message: [UInt8]) throws -> [UInt8] {
        guard case .awaitingServerFirst = state else {
            state = .failed
            throw AuthError.protocolViolation(detail: "unexpected SCRAM server-first-message")
        }
        state = .failed  // until proven otherwise
        let name = "server-first-message"
        let text = try SCRAMAttributes.text(of: message, messageName: name)
        var attributes = try SCRAMAttributes(text[...], messageName: name)
        if attributes.nextKey == "m" {
            throw AuthError.unsupported(detail: "server requires an unsupported SCRAM extension")
        }
        let combinedNonce = try attributes.require("r", in: name)
        guard SCRAMPrimitives.isValidNonce(combinedNonce), combinedNonce.count > clientNonce.count,
            combinedNonce.hasPrefix(clientNonce)
        else {
            throw AuthError.protocolViolation(detail: "SCRAM nonce mismatch in server-first-message")
        }
        guard let salt = SCRAMPrimitives.decodeBase64(try attributes.require("s", in: name)), !salt.isEmpty else {
            throw AuthError.protocolViolation(detail: "invalid SCRAM salt in server-first-message")
        }
        let encodedIterations = try attributes.require("i", in: name)
        guard encodedIterations.allSatisfy(\.isASCII), let iterations = Int(encodedIterations),
            (1...PBKDF2Cache.maximumIterations).contains(iterations)
        else {
            throw AuthError.protocolViolation(detail: "invalid SCRAM iteration count in server-first-message")
        }
        // Further attributes are extensions, which RFC 5802 lets us ignore.

        let clientKey: [UInt8]
        let serverKey: [UInt8]
        switch credential {
        case .password(let password):
            let salted = try cache.saltedPassword(
                password: SASLprep.prepare(password), salt: salt, iterations: iterations)
            clientKey = SCRAMPrimitives.clientKey(saltedPassword: salted)
            serverKey = SCRAMPrimitives.serverKey(saltedPassword: salted)
        case .keys(let recoveredClientKey, let secretServerKey, let secretSalt, let secretIterations):
            guard recoveredClientKey.count == SCRAMPrimitives.keyLength,
                secretServerKey.count == SCRAMPrimitives.keyLength,
                secretSalt == salt, secretIterations == iterations
            else {
                throw AuthError.passthroughKeysMismatch(user: username)
            }
            clientKey = recoveredClientKey
            serverKey = secretServerKey
        }

        let withoutProof = "c=biws,r=\(combinedNonce)"
        let authMessage = Array("\(clientFirstBare),\(text),\(withoutProof)".utf8)
        let clientSignature = SCRAMPrimitives.hmac(key: SCRAMPrimitives.hash(clientKey), authMessage)
        let proof = SCRAMPrimitives.xor(clientKey, clientSignature)
        state = .awaitingServerFinal(
            expectedServerSignature: SCRAMPrimitives.hmac(key: serverKey, authMessage))
        return Array("\(withoutProof),p=\(SCRAMPrimitives.base64(proof))".utf8)
    }

    /// Takes the server-final-message (AuthenticationSASLFinal payload) and checks the server's
    /// signature.
    ///
    /// - Throws: ``AuthError/server(_:)`` for `e=...`, ``AuthError/serverSignatureMismatch`` when
    ///   the signature is wrong, ``AuthError/protocolViolation(detail:)`` when malformed.
    public mutating func receiveServerFinal(_ message: [UInt8]) throws {
        guard case .awaitingServerFinal(let expected) = state else {
            state = .failed
            throw AuthError.protocolViolation(detail: "unexpected SCRAM server-final-message")
        }
        state = .failed
        let name = "server-final-message"
        let text = try SCRAMAttributes.text(of: message, messageName: name)
        var attributes = try SCRAMAttributes(text[...], messageName: name)
        if let serverError = attributes.take("e") {
            throw AuthError.server(String(serverError.prefix(200)))
        }
        guard let signature = SCRAMPrimitives.decodeBase64(try attributes.require("v", in: name)) else {
            throw AuthError.protocolViolation(detail: "invalid ServerSignature in server-final-message")
        }
        guard SCRAMPrimitives.constantTimeEqual(signature, expected) else {
            throw AuthError.serverSignatureMismatch
        }
        state = .succeeded
    }
}
