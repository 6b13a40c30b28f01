import Crypto

/// PostgreSQL's MD5 password scheme (`auth_type = md5`).
///
/// The stored hash is `"md5" + hex(md5(password + user))`; on login the server sends a 4-byte salt
/// and the client answers `"md5" + hex(md5(hex(md5(password + user)) + salt))`.
public enum MD5Password {
    /// The stored form of `password` for `user`, as `CREATE ROLE ... PASSWORD` with md5 writes it.
    public static func hash(password: String, user: String) -> String {
        "md5" + hexMD5(Array(password.utf8) + Array(user.utf8))
    }

    /// The PasswordMessage a client sends for a stored hash (`md5...`) and the server's salt.
    /// Also what the proxy sends when it logs in to a server with an md5 hash from the auth_file.
    public static func response(hashedSecret: String, salt: [UInt8]) -> String {
        let hexDigits = hashedSecret.hasPrefix("md5") ? hashedSecret.dropFirst(3) : Substring(hashedSecret)
        return "md5" + hexMD5(Array(hexDigits.utf8) + salt)
    }

    /// What to answer a server's AuthenticationMD5Password with, given the auth_file's secret:
    /// nil for a SCRAM secret (it cannot produce an MD5 response) and for an empty password.
    public static func response(for secret: StoredSecret, user: String, salt: [UInt8]) -> String? {
        switch secret {
        case .plain(let password) where !password.isEmpty:
            return response(hashedSecret: hash(password: password, user: user), salt: salt)
        case .md5(let stored):
            return response(hashedSecret: stored, salt: salt)
        case .plain, .scram:
            return nil
        }
    }

    /// Whether a client's MD5 response matches the stored secret.
    ///
    /// Always false for a SCRAM secret, which cannot check an MD5 response (PostgreSQL fails such
    /// a login as a wrong password; callers should offer SCRAM to those users instead, see
    /// ``StoredSecret/canVerifyMD5``), and for an empty password, which PostgreSQL never accepts.
    public static func verify(clientResponse: String, secret: StoredSecret, user: String, salt: [UInt8]) -> Bool {
        guard let expected = response(for: secret, user: user, salt: salt) else { return false }
        return SCRAMPrimitives.constantTimeEqual(Array(clientResponse.utf8), Array(expected.utf8))
    }

    private static func hexMD5(_ bytes: [UInt8]) -> String {
        let hexDigits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(32)
        for byte in Insecure.MD5.hash(data: bytes) {
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
