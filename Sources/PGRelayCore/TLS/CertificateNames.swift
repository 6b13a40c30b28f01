/// The names in an X.509 certificate that `auth_type = cert` compares with the user name: the
/// subject's common names and the DNS names of its subjectAltName extension.
///
/// Read from the certificate's DER bytes with a small reader of our own: swift-nio-ssl keeps its
/// common-name accessor internal, and only these two fields are needed. The certificate has been
/// verified by BoringSSL before it gets here, but every length is still checked against the bytes.
public struct CertificateNames: Sendable, Equatable {
    public var commonNames: [String]
    public var dnsNames: [String]

    public init(commonNames: [String] = [], dnsNames: [String] = []) {
        self.commonNames = commonNames
        self.dnsNames = dnsNames
    }

    /// Malformed DER, with what was expected where.
    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    private static let commonNameOID: [UInt8] = [0x55, 0x04, 0x03]       // 2.5.4.3
    private static let subjectAltNameOID: [UInt8] = [0x55, 0x1D, 0x11]  // 2.5.29.17

    /// Parses a DER certificate.
    /// - Throws: `Malformed` when the bytes are not a certificate's structure.
    public init(der: [UInt8]) throws {
        var outer = DERReader(der[...])
        var certificate = DERReader(try outer.read(.sequence, "certificate"))
        var tbs = DERReader(try certificate.read(.sequence, "tbsCertificate"))
        if tbs.nextTag == DERReader.Tag.explicitVersion { _ = try tbs.read() }
        _ = try tbs.read(.integer, "serialNumber")
        _ = try tbs.read(.sequence, "signature")
        _ = try tbs.read(.sequence, "issuer")
        _ = try tbs.read(.sequence, "validity")
        let subject = try tbs.read(.sequence, "subject")
        _ = try tbs.read(.sequence, "subjectPublicKeyInfo")
        var extensions: ArraySlice<UInt8>?
        while !tbs.isAtEnd {
            let (tag, content) = try tbs.read()
            if tag == DERReader.Tag.explicitExtensions { extensions = content }
        }
        self.init(commonNames: try Self.commonNames(in: subject),
                  dnsNames: try extensions.map(Self.dnsNames(inExtensions:)) ?? [])
    }

    /// Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }
    private static func commonNames(in name: ArraySlice<UInt8>) throws -> [String] {
        var names: [String] = []
        var rdns = DERReader(name)
        while !rdns.isAtEnd {
            var attributes = DERReader(try rdns.read(.set, "relative distinguished name"))
            while !attributes.isAtEnd {
                var attribute = DERReader(try attributes.read(.sequence, "attribute"))
                let type = try attribute.read(.objectIdentifier, "attribute type")
                let (tag, value) = try attribute.read()
                if Array(type) == commonNameOID { names.append(try DERReader.string(tag: tag, value)) }
            }
        }
        return names
    }

    /// [3] { SEQUENCE OF Extension { OID, critical BOOLEAN DEFAULT FALSE, OCTET STRING } }; the
    /// subjectAltName's OCTET STRING holds SEQUENCE OF GeneralName, dNSName being [2] IA5String.
    private static func dnsNames(inExtensions explicit: ArraySlice<UInt8>) throws -> [String] {
        var wrapper = DERReader(explicit)
        var list = DERReader(try wrapper.read(.sequence, "extensions"))
        var names: [String] = []
        while !list.isAtEnd {
            var fields = DERReader(try list.read(.sequence, "extension"))
            let oid = try fields.read(.objectIdentifier, "extension id")
            if fields.nextTag == DERReader.Tag.boolean.rawValue { _ = try fields.read() }
            let value = try fields.read(.octetString, "extension value")
            guard Array(oid) == subjectAltNameOID else { continue }
            var octets = DERReader(value)
            var generalNames = DERReader(try octets.read(.sequence, "subjectAltName"))
            while !generalNames.isAtEnd {
                let (tag, content) = try generalNames.read()
                if tag == DERReader.Tag.dnsName { names.append(try DERReader.string(tag: DERReader.Tag.ia5String.rawValue, content)) }
            }
        }
        return names
    }
}

/// A bounds-checked reader of DER tag-length-value items (definite lengths only, as DER demands).
struct DERReader {
    enum Tag: UInt8 {
        case boolean = 0x01
        case integer = 0x02
        case octetString = 0x04
        case objectIdentifier = 0x06
        case utf8String = 0x0C
        case printableString = 0x13
        case teletexString = 0x14
        case ia5String = 0x16
        case universalString = 0x1C
        case bmpString = 0x1E
        case sequence = 0x30
        case set = 0x31

        static let explicitVersion: UInt8 = 0xA0
        static let explicitExtensions: UInt8 = 0xA3
        /// GeneralName's dNSName: [2] IMPLICIT IA5String.
        static let dnsName: UInt8 = 0x82
    }

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { bytes.isEmpty }
    var nextTag: UInt8? { bytes.first }

    /// The next item's tag and content.
    mutating func read() throws -> (tag: UInt8, content: ArraySlice<UInt8>) {
        guard let tag = bytes.popFirst(), let first = bytes.popFirst() else {
            throw CertificateNames.Malformed(description: "truncated item")
        }
        // High tag numbers (0x1F) do not occur in the fields read here.
        guard tag & 0x1F != 0x1F else { throw CertificateNames.Malformed(description: "unsupported tag \(tag)") }
        var length = Int(first)
        if first & 0x80 != 0 {
            let count = Int(first & 0x7F)
            guard (1...4).contains(count), bytes.count >= count else {
                throw CertificateNames.Malformed(description: "invalid length")
            }
            length = bytes.prefix(count).reduce(0) { $0 << 8 | Int($1) }
            bytes = bytes.dropFirst(count)
        }
        guard length <= bytes.count else { throw CertificateNames.Malformed(description: "item longer than its container") }
        let content = bytes.prefix(length)
        bytes = bytes.dropFirst(length)
        return (tag, content)
    }

    /// The next item, which must have `tag`.
    mutating func read(_ tag: Tag, _ what: String) throws -> ArraySlice<UInt8> {
        let item = try read()
        guard item.tag == tag.rawValue else {
            throw CertificateNames.Malformed(description: "expected \(what)")
        }
        return item.content
    }

    /// A directory string's text. Names with a NUL inside are refused: "bouncer\0.example.com"
    /// must never compare equal to "bouncer" anywhere.
    static func string(tag: UInt8, _ content: ArraySlice<UInt8>) throws -> String {
        let text: String?
        switch Tag(rawValue: tag) {
        case .utf8String?:
            text = String(validating: content, as: UTF8.self)
        case .printableString?, .ia5String?:
            text = content.allSatisfy { $0 < 0x80 } ? String(decoding: content, as: UTF8.self) : nil
        case .teletexString?:
            text = String(content.map { Character(Unicode.Scalar($0)) })
        case .bmpString?:
            text = content.count % 2 == 0
                ? String(validating: stride(from: content.startIndex, to: content.endIndex, by: 2).map {
                    UInt16(content[$0]) << 8 | UInt16(content[$0 + 1])
                }, as: UTF16.self) : nil
        case .universalString?:
            text = content.count % 4 == 0
                ? String(validating: stride(from: content.startIndex, to: content.endIndex, by: 4).map {
                    content[$0..<$0 + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                }, as: UTF32.self) : nil
        default:
            throw CertificateNames.Malformed(description: "a name of unsupported type \(tag)")
        }
        guard let text, !text.unicodeScalars.contains("\0") else {
            throw CertificateNames.Malformed(description: "a name that is not valid text")
        }
        return text
    }
}
