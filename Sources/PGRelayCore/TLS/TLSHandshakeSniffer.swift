/// Reads what a TLS handshake negotiated from the server's cleartext handshake messages, the way
/// PgBouncer's `tls` column shows it: `TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519`.
///
/// swift-nio-ssl exposes the protocol version but not the cipher suite or key-exchange group, and
/// reaching into BoringSSL's connection object is not public API. The ServerHello (and in TLS 1.2
/// the ServerKeyExchange) travel unencrypted, so a handler on the socket side of the TLS handler
/// can feed the server's bytes here: outbound ones when pgrelay is the TLS server, inbound ones
/// when it is the client. It never alters the bytes; malformed or oversized input just ends the
/// sniffing with what is known.
public struct TLSHandshakeSniffer: Sendable {
    /// The negotiated version, once the ServerHello was seen.
    public private(set) var version: TLSProtocolVersion?
    /// The negotiated suite's code point.
    public private(set) var cipherSuite: UInt16?
    /// The (EC)DHE group's code point (TLS 1.3 key_share, TLS 1.2 ServerKeyExchange).
    public private(set) var group: UInt16?
    /// True when nothing more will be learned; the caller may stop feeding.
    public private(set) var isFinished = false

    /// The most bytes held while waiting for a record or handshake message to complete (a TLS
    /// 1.2 certificate chain comes before the ServerKeyExchange).
    public static let maxBufferedBytes = 65_536

    private var records: [UInt8] = []
    private var handshake: [UInt8] = []
    private var awaitingKeyExchange = false

    public init() {}

    /// Feeds the next bytes the TLS server sent.
    public mutating func feed<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard !isFinished else { return }
        records.append(contentsOf: bytes)
        while !isFinished, records.count >= 5 {
            let length = Int(records[3]) << 8 | Int(records[4])
            // TLS 1.3 servers may send a ChangeCipherSpec after a HelloRetryRequest (RFC 8446 D.4).
            if records[0] == Self.changeCipherSpecRecord, version == nil, length <= 1 {
                guard records.count >= 5 + length else { break }
                records.removeFirst(5 + length)
                continue
            }
            guard records[0] == Self.handshakeRecord, length <= 18_432 else {
                // A ChangeCipherSpec, alert or encrypted record: the cleartext part is over.
                isFinished = true
                break
            }
            guard records.count >= 5 + length else { break }
            handshake.append(contentsOf: records[5..<(5 + length)])
            records.removeFirst(5 + length)
            readHandshakeMessages()
        }
        if records.count + handshake.count > Self.maxBufferedBytes { isFinished = true }
        if isFinished {
            records = []
            handshake = []
        }
    }

    /// `TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519` as far as known; "" before the ServerHello.
    public var description: String {
        guard let version else { return "" }
        var text = version.name
        if let cipherSuite {
            text += "/" + (TLSCipherSuite.suite(code: cipherSuite)?.name ?? Self.hex(cipherSuite))
        }
        if let group { text += "/ECDH=" + Self.groupName(group) }
        return text
    }

    // MARK: messages

    private static let handshakeRecord: UInt8 = 22
    private static let changeCipherSpecRecord: UInt8 = 20
    private static let serverHello: UInt8 = 2
    private static let serverKeyExchange: UInt8 = 12
    private static let supportedVersions: UInt16 = 0x002B
    private static let keyShare: UInt16 = 0x0033
    /// RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest.
    private static let helloRetryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    private mutating func readHandshakeMessages() {
        while !isFinished, handshake.count >= 4 {
            let length = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
            guard 4 + length <= Self.maxBufferedBytes else {
                isFinished = true
                return
            }
            guard handshake.count >= 4 + length else { return }
            let body = Array(handshake[4..<(4 + length)])
            let type = handshake[0]
            handshake.removeFirst(4 + length)
            if type == Self.serverHello {
                readServerHello(body)
            } else if awaitingKeyExchange, type == Self.serverKeyExchange {
                // ECParameters: curve_type 3 (named_curve), then the group.
                if body.count >= 3, body[0] == 3 { group = UInt16(body[1]) << 8 | UInt16(body[2]) }
                isFinished = true
            } else if awaitingKeyExchange, type == 14 {
                // ServerHelloDone without a key exchange message: no group to show.
                isFinished = true
            }
        }
    }

    private mutating func readServerHello(_ body: [UInt8]) {
        var reader = ByteReader(body)
        guard let legacyVersion = reader.uint16(), let random = reader.bytes(32),
              let sessionIDLength = reader.uint8(), reader.bytes(Int(sessionIDLength)) != nil,
              let suite = reader.uint16(), reader.uint8() != nil else {
            isFinished = true
            return
        }
        // A HelloRetryRequest only asks for another key share; the real ServerHello follows.
        if random == Self.helloRetryRandom { return }
        var negotiated = legacyVersion
        var keyShareGroup: UInt16?
        if let extensionsLength = reader.uint16(), let extensions = reader.bytes(Int(extensionsLength)) {
            var list = ByteReader(extensions)
            while let type = list.uint16(), let length = list.uint16(), let data = list.bytes(Int(length)) {
                var field = ByteReader(data)
                if type == Self.supportedVersions, let selected = field.uint16() { negotiated = selected }
                if type == Self.keyShare { keyShareGroup = field.uint16() }
            }
        }
        switch negotiated {
        case 0x0301: version = .tls1_0
        case 0x0302: version = .tls1_1
        case 0x0303: version = .tls1_2
        case 0x0304: version = .tls1_3
        default:
            isFinished = true
            return
        }
        cipherSuite = suite
        if version == .tls1_3 {
            // Everything after the ServerHello is encrypted.
            group = keyShareGroup
            isFinished = true
        } else {
            awaitingKeyExchange = TLSCipherSuite.suite(code: suite)?.keyExchange == .ecdhe
            isFinished = !awaitingKeyExchange
        }
    }

    /// OpenSSL's short names, as PgBouncer prints them.
    static func groupName(_ group: UInt16) -> String {
        switch group {
        case 0x001D: return "X25519"
        case 0x0017: return "prime256v1"
        case 0x0018: return "secp384r1"
        case 0x0019: return "secp521r1"
        case 0x11EC: return "X25519MLKEM768"
        case 0x6399: return "X25519Kyber768Draft00"
        default: return hex(group)
        }
    }

    private static func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// Bounds-checked big-endian reads over a byte array.
private struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func uint8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16? {
        guard offset + 2 <= bytes.count else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }
}
