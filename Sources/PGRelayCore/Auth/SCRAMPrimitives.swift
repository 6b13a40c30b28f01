import Crypto
import Foundation

/// The building blocks of SCRAM-SHA-256 (RFC 5802 section 3, RFC 7677), on byte arrays.
enum SCRAMPrimitives {
    /// Length of SHA-256 output, hence of every SCRAM key, signature and proof.
    static let keyLength = 32

    /// HMAC-SHA-256(key, message).
    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// SHA-256(data), written H() in RFC 5802.
    static func hash(_ data: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: data))
    }

    /// Byte-wise XOR of two arrays of the same length.
    static func xor(_ lhs: [UInt8], _ rhs: [UInt8]) -> [UInt8] {
        zip(lhs, rhs).map { $0 ^ $1 }
    }

    /// Compares without an early exit, so timing does not reveal where two secrets differ.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }

    /// ClientKey = HMAC(SaltedPassword, "Client Key").
    static func clientKey(saltedPassword: [UInt8]) -> [UInt8] {
        hmac(key: saltedPassword, Array("Client Key".utf8))
    }

    /// ServerKey = HMAC(SaltedPassword, "Server Key").
    static func serverKey(saltedPassword: [UInt8]) -> [UInt8] {
        hmac(key: saltedPassword, Array("Server Key".utf8))
    }

    /// `count` bytes from the system's cryptographically secure generator.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// A fresh nonce: 18 random bytes in base64, as PostgreSQL and libpq generate them.
    static func makeNonce() -> String {
        base64(randomBytes(18))
    }

    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Strict base64 (padding required, no whitespace); nil when invalid.
    static func decodeBase64(_ text: Substring) -> [UInt8]? {
        Data(base64Encoded: String(text)).map(Array.init)
    }

    /// Whether a nonce only uses RFC 5802's `printable` characters (0x21–0x7E except ',').
    static func isValidNonce(_ nonce: Substring) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }
    }
}
