/// A TLS cipher suite as BoringSSL (the TLS library of swift-nio-ssl) knows it: the names it
/// accepts in a cipher string and the attributes its aliases (`ECDHE`, `AESGCM`, ...) select by.
///
/// The table is what BoringSSL implements, not what OpenSSL does: no DHE, no CAMELLIA, no
/// CCM suites. OpenSSL names of suites BoringSSL lacks select nothing (see `TLSCipherSelection`).
public struct TLSCipherSuite: Equatable, Sendable {
    /// Key exchange.
    public enum KeyExchange: Sendable { case rsa, ecdhe, psk, tls13 }
    /// Server authentication.
    public enum Authentication: Sendable { case rsa, ecdsa, psk, tls13 }
    /// Bulk encryption.
    public enum Encryption: Sendable { case tripleDES, aes128, aes256, aes128GCM, aes256GCM, chacha20 }
    /// Record MAC (`aead` for AEAD ciphers, whose integrity is built in).
    public enum MAC: Sendable { case sha1, sha256, aead }

    /// The OpenSSL-style name (`ECDHE-RSA-AES128-GCM-SHA256`; TLS 1.3 suites use the IANA name).
    public let name: String
    /// The IANA name (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`).
    public let standardName: String
    /// The two-byte code point sent in ClientHello and ServerHello.
    public let code: UInt16
    public let keyExchange: KeyExchange
    public let authentication: Authentication
    public let encryption: Encryption
    public let mac: MAC

    /// TLS 1.3 suites cannot be chosen through swift-nio-ssl; cipher strings never select them.
    public var isTLS13: Bool { keyExchange == .tls13 }

    /// Suites with a SHA-1 MAC date from SSLv3/TLS 1.0; the others need TLS 1.2
    /// (BoringSSL's `SSLv3`/`TLSv1` and `TLSv1.2` aliases select by this).
    public var needsTLS12: Bool { mac != .sha1 }

    /// 3DES is left out of every alias unless `3DES` itself is named (BoringSSL's "deprecated").
    public var isDeprecated: Bool { encryption == .tripleDES }

    /// Symmetric strength in bits, for `@STRENGTH`.
    public var strengthBits: Int {
        switch encryption {
        case .tripleDES: return 112
        case .aes128, .aes128GCM: return 128
        case .aes256, .aes256GCM, .chacha20: return 256
        }
    }

    /// Suites for TLS 1.2 and lower in BoringSSL's preference order (with AES hardware).
    public static let tls12: [TLSCipherSuite] = [
        .init("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02B, .ecdhe, .ecdsa, .aes128GCM, .aead),
        .init("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F, .ecdhe, .rsa, .aes128GCM, .aead),
        .init("ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xC02C, .ecdhe, .ecdsa, .aes256GCM, .aead),
        .init("ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xC030, .ecdhe, .rsa, .aes256GCM, .aead),
        .init("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9, .ecdhe, .ecdsa, .chacha20, .aead),
        .init("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA8, .ecdhe, .rsa, .chacha20, .aead),
        .init("ECDHE-PSK-CHACHA20-POLY1305", "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", 0xCCAC, .ecdhe, .psk, .chacha20, .aead),
        .init("ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC009, .ecdhe, .ecdsa, .aes128, .sha1),
        .init("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC013, .ecdhe, .rsa, .aes128, .sha1),
        .init("ECDHE-PSK-AES128-CBC-SHA", "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", 0xC035, .ecdhe, .psk, .aes128, .sha1),
        .init("ECDHE-ECDSA-AES256-SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xC00A, .ecdhe, .ecdsa, .aes256, .sha1),
        .init("ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xC014, .ecdhe, .rsa, .aes256, .sha1),
        .init("ECDHE-PSK-AES256-CBC-SHA", "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", 0xC036, .ecdhe, .psk, .aes256, .sha1),
        .init("ECDHE-ECDSA-AES128-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xC023, .ecdhe, .ecdsa, .aes128, .sha256),
        .init("ECDHE-RSA-AES128-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC027, .ecdhe, .rsa, .aes128, .sha256),
        .init("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009C, .rsa, .rsa, .aes128GCM, .aead),
        .init("AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009D, .rsa, .rsa, .aes256GCM, .aead),
        .init("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F, .rsa, .rsa, .aes128, .sha1),
        .init("PSK-AES128-CBC-SHA", "TLS_PSK_WITH_AES_128_CBC_SHA", 0x008C, .psk, .psk, .aes128, .sha1),
        .init("AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", 0x0035, .rsa, .rsa, .aes256, .sha1),
        .init("PSK-AES256-CBC-SHA", "TLS_PSK_WITH_AES_256_CBC_SHA", 0x008D, .psk, .psk, .aes256, .sha1),
        .init("DES-CBC3-SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x000A, .rsa, .rsa, .tripleDES, .sha1),
    ]

    /// The TLS 1.3 suites; always enabled by BoringSSL, in this order.
    public static let tls13: [TLSCipherSuite] = [
        .init("TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", 0x1301, .tls13, .tls13, .aes128GCM, .aead),
        .init("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", 0x1302, .tls13, .tls13, .aes256GCM, .aead),
        .init("TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", 0x1303, .tls13, .tls13, .chacha20, .aead),
    ]

    private static let byCode: [UInt16: TLSCipherSuite] = Dictionary(uniqueKeysWithValues: (tls12 + tls13).map { ($0.code, $0) })

    /// The suite with this code point, if BoringSSL implements it.
    public static func suite(code: UInt16) -> TLSCipherSuite? {
        byCode[code]
    }

    init(_ name: String, _ standardName: String, _ code: UInt16, _ keyExchange: KeyExchange,
         _ authentication: Authentication, _ encryption: Encryption, _ mac: MAC) {
        self.name = name
        self.standardName = standardName
        self.code = code
        self.keyExchange = keyExchange
        self.authentication = authentication
        self.encryption = encryption
        self.mac = mac
    }
}
