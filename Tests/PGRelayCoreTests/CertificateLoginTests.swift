import Foundation
import XCTest
@testable import PGRelayCore

/// auth_type = cert: the names a client certificate carries, and whether they name the user.
final class CertificateLoginTests: XCTestCase {
    /// openssl req -x509 ... -subj "/C=QQ/O=Org1/OU=Dev/CN=bouncer" (as PgBouncer's test CA makes them).
    private let bouncerCertificate = """
        MIIBzDCCAXOgAwIBAgIUIXwPwGOSHoCgeOjxakyVpR92ijgwCgYIKoZIzj0EAwIwPDELMAkGA1UEBhMCUVExDTALBgNVBAoMBE9yZzExDDAKBgNVBAsMA0RldjEQ\
        MA4GA1UEAwwHYm91bmNlcjAeFw0yNjEyMDMwOTM3MzFaFw0zNjExMzAwOTM3MzFaMDwxCzAJBgNVBAYTAlFRMQ0wCwYDVQQKDARPcmcxMQwwCgYDVQQLDANEZXYx\
        EDAOBgNVBAMMB2JvdW5jZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARYk05go7nhca4ePn9SYK0MKx4Kwku2fCSuGWwqQnIa46sOxIo80/O4DdqGJ1A//tzL\
        3htR5j2nu7fUvjlUAhwdo1MwUTAdBgNVHQ4EFgQUVeU1gPtm4lkDoliliLLo9S5iMs0wHwYDVR0jBBgwFoAUVeU1gPtm4lkDoliliLLo9S5iMs0wDwYDVR0TAQH/\
        BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAufseYmBgUudnAmrFBD1+dfKs2PJ0WEgx6hi3gn2gpAAIgZuhS2wGAy7XRht+s5VLPclQcHMK8aMEkdTVuaGpBnkA=
        """
    /// ... -subj "/CN=ignored" -addext "subjectAltName=DNS:alice,IP:127.0.0.1,DNS:bob"
    private let alternativeNamesCertificate = """
        MIIBljCCATygAwIBAgIUC22pLPMwH/rh8qbpHDgNh5Wz5pgwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHaWdub3JlZDAeFw0yNjEyMDMwOTM3MzFaFw0zNjExMzAw\
        OTM3MzFaMBIxEDAOBgNVBAMMB2lnbm9yZWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR9zO7GZGYNUPoj4p9VBC3AIeK6GxbZQ3TDY3MOu6MUeNKRfRzlXJW4\
        SmpF/YJSV9KWOS0nwHghfPYRDYp2+g0Zo3AwbjAdBgNVHQ4EFgQU5CErySML05Q+Qqzhiib9WexY9gEwHwYDVR0jBBgwFoAU5CErySML05Q+Qqzhiib9WexY9gEw\
        DwYDVR0TAQH/BAUwAwEB/zAbBgNVHREEFDASggVhbGljZYcEfwAAAYIDYm9iMAoGCCqGSM49BAMCA0gAMEUCIByeWtasGO7RjDQoZpTO/YDBuEKexH1fdUukYZyf\
        qkamAiEAy5jCbsynIlrgA1TMYp/iVp7md+PMtSrQs/k1fZ+q/DQ=
        """

    private func der(_ base64: String) -> [UInt8] {
        Array(Data(base64Encoded: base64)!)
    }

    func testNamesOfRealCertificates() throws {
        XCTAssertEqual(try CertificateNames(der: der(bouncerCertificate)), CertificateNames(commonNames: ["bouncer"]))
        XCTAssertEqual(try CertificateNames(der: der(alternativeNamesCertificate)),
                       CertificateNames(commonNames: ["ignored"], dnsNames: ["alice", "bob"]))
    }

    // MARK: synthetic certificates

    private func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var length: [UInt8]
        switch content.count {
        case ..<0x80: length = [UInt8(content.count)]
        case ..<0x100: length = [0x81, UInt8(content.count)]
        default: length = [0x82, UInt8(content.count >> 8), UInt8(content.count & 0xFF)]
        }
        return [tag] + length + content
    }

    private func name(_ attributes: [(oid: [UInt8], tag: UInt8, value: [UInt8])]) -> [UInt8] {
        tlv(0x30, attributes.flatMap { tlv(0x31, tlv(0x30, tlv(0x06, $0.oid) + tlv($0.tag, $0.value))) })
    }

    private let cn: [UInt8] = [0x55, 0x04, 0x03]
    private let org: [UInt8] = [0x55, 0x04, 0x0A]

    /// A certificate shape with `subject` and the given extensions (DER of each Extension).
    private func certificate(subject: [UInt8], extensions: [[UInt8]]? = nil, version: Bool = true) -> [UInt8] {
        var tbs: [UInt8] = version ? tlv(0xA0, tlv(0x02, [2])) : []
        tbs += tlv(0x02, [1]) + tlv(0x30, tlv(0x06, [0x2A, 0x86, 0x48])) + name([(cn, 0x0C, Array("ca".utf8))])
        tbs += tlv(0x30, tlv(0x17, Array("260101000000Z".utf8)) + tlv(0x17, Array("360101000000Z".utf8)))
        tbs += subject + tlv(0x30, tlv(0x30, tlv(0x06, [0x2A])) + tlv(0x03, [0, 4, 1]))
        if let extensions { tbs += tlv(0xA3, tlv(0x30, extensions.flatMap { $0 })) }
        return tlv(0x30, tlv(0x30, tbs) + tlv(0x30, tlv(0x06, [0x2A])) + tlv(0x03, [0]))
    }

    private func subjectAltName(_ names: [(tag: UInt8, value: [UInt8])], critical: Bool = false) -> [UInt8] {
        let general = tlv(0x30, names.flatMap { tlv($0.tag, $0.value) })
        return tlv(0x30, tlv(0x06, [0x55, 0x1D, 0x11]) + (critical ? tlv(0x01, [0xFF]) : []) + tlv(0x04, general))
    }

    func testNamesOfEveryStringTypeAndShape() throws {
        let basicConstraints = tlv(0x30, tlv(0x06, [0x55, 0x1D, 0x13]) + tlv(0x01, [0xFF]) + tlv(0x04, tlv(0x30, [])))
        let long = String(repeating: "u", count: 300)
        let cases: [(name: String, der: [UInt8], expected: CertificateNames)] = [
            ("UTF8String", certificate(subject: name([(cn, 0x0C, Array("bouncer".utf8))])), CertificateNames(commonNames: ["bouncer"])),
            ("PrintableString", certificate(subject: name([(cn, 0x13, Array("app".utf8))])), CertificateNames(commonNames: ["app"])),
            ("IA5String", certificate(subject: name([(cn, 0x16, Array("app".utf8))])), CertificateNames(commonNames: ["app"])),
            ("TeletexString as Latin-1", certificate(subject: name([(cn, 0x14, [0x6A, 0xF6, 0x72, 0x67])])),
             CertificateNames(commonNames: ["jörg"])),
            ("BMPString", certificate(subject: name([(cn, 0x1E, [0, 0x61, 0, 0x70, 0, 0x70])])), CertificateNames(commonNames: ["app"])),
            ("UniversalString", certificate(subject: name([(cn, 0x1C, [0, 0, 0, 0x61, 0, 0, 0, 0x62])])), CertificateNames(commonNames: ["ab"])),
            ("non-ASCII UTF-8", certificate(subject: name([(cn, 0x0C, Array("jörg".utf8))])), CertificateNames(commonNames: ["jörg"])),
            ("other attributes skipped", certificate(subject: name([(org, 0x0C, Array("Org".utf8)), (cn, 0x0C, Array("a".utf8))])),
             CertificateNames(commonNames: ["a"])),
            ("two common names", certificate(subject: name([(cn, 0x0C, Array("a".utf8)), (cn, 0x0C, Array("b".utf8))])),
             CertificateNames(commonNames: ["a", "b"])),
            ("no common name", certificate(subject: name([(org, 0x0C, Array("Org".utf8))])), CertificateNames()),
            ("empty subject", certificate(subject: tlv(0x30, [])), CertificateNames()),
            ("no version field", certificate(subject: name([(cn, 0x0C, Array("v1".utf8))]), version: false),
             CertificateNames(commonNames: ["v1"])),
            ("long-form lengths", certificate(subject: name([(cn, 0x0C, Array(long.utf8))])), CertificateNames(commonNames: [long])),
            ("DNS names, other general names skipped",
             certificate(subject: name([(cn, 0x0C, Array("x".utf8))]),
                         extensions: [basicConstraints, subjectAltName([(0x82, Array("alice".utf8)), (0x87, [127, 0, 0, 1]),
                                                                        (0x81, Array("a@b".utf8)), (0x82, Array("bob".utf8))])]),
             CertificateNames(commonNames: ["x"], dnsNames: ["alice", "bob"])),
            ("critical subjectAltName", certificate(subject: tlv(0x30, []), extensions: [subjectAltName([(0x82, Array("c".utf8))], critical: true)]),
             CertificateNames(dnsNames: ["c"])),
            ("extensions without subjectAltName", certificate(subject: tlv(0x30, []), extensions: [basicConstraints]), CertificateNames()),
        ]
        for test in cases {
            XCTAssertEqual(try CertificateNames(der: test.der), test.expected, test.name)
        }
    }

    func testMalformedCertificatesAreRefused() {
        let good = certificate(subject: name([(cn, 0x0C, Array("bouncer".utf8))]))
        let cases: [(name: String, der: [UInt8])] = [
            ("empty", []),
            ("one byte", [0x30]),
            ("not a sequence", [0x04, 0x00]),
            ("length past the end", [0x30, 0x05, 0x30]),
            ("indefinite length", [0x30, 0x80, 0x00, 0x00]),
            ("length of five bytes", [0x30, 0x85, 0, 0, 0, 0, 1, 0]),
            ("high tag number", [0x1F, 0x01, 0x00]),
            ("truncated", Array(good.dropLast(3))),
            ("NUL inside a common name", certificate(subject: name([(cn, 0x0C, Array("bouncer\0.example.com".utf8))]))),
            ("invalid UTF-8", certificate(subject: name([(cn, 0x0C, [0xC3, 0x28])]))),
            ("8-bit PrintableString", certificate(subject: name([(cn, 0x13, [0xE9])]))),
            ("odd-length BMPString", certificate(subject: name([(cn, 0x1E, [0, 0x61, 0])]))),
            ("unpaired surrogate in BMPString", certificate(subject: name([(cn, 0x1E, [0xD8, 0x00])]))),
            ("common name of a non-string type", certificate(subject: name([(cn, 0x02, [1])]))),
            ("subjectAltName that is not a sequence",
             certificate(subject: tlv(0x30, []), extensions: [tlv(0x30, tlv(0x06, [0x55, 0x1D, 0x11]) + tlv(0x04, tlv(0x04, [])))])),
            ("subject missing", tlv(0x30, tlv(0x30, tlv(0x02, [1]) + tlv(0x30, []) + tlv(0x30, []) + tlv(0x30, [])))),
        ]
        for test in cases {
            XCTAssertThrowsError(try CertificateNames(der: test.der), test.name)
        }
    }

    func testWhichCertificatesLogInWhichUser() {
        struct Malformed: Error {}
        let cases: [(name: String, user: String, overTLS: Bool, names: Result<CertificateNames, Error>?,
                     refusal: CertificateLogin.Refusal?)] = [
            ("common name is the user", "bouncer", true, .success(CertificateNames(commonNames: ["bouncer"])), nil),
            ("another user", "postgres", true, .success(CertificateNames(commonNames: ["bouncer"])), .nameMismatch),
            ("letter case matters", "Bouncer", true, .success(CertificateNames(commonNames: ["bouncer"])), .nameMismatch),
            ("no wildcards", "a.example.com", true, .success(CertificateNames(commonNames: ["*.example.com"])), .nameMismatch),
            ("any of several common names", "b", true, .success(CertificateNames(commonNames: ["a", "b"])), nil),
            ("DNS names first", "alice", true, .success(CertificateNames(commonNames: ["ignored"], dnsNames: ["alice", "bob"])), nil),
            ("common name ignored when DNS names exist", "ignored", true,
             .success(CertificateNames(commonNames: ["ignored"], dnsNames: ["alice"])), .nameMismatch),
            ("certificate without names", "bouncer", true, .success(CertificateNames()), .nameMismatch),
            ("plaintext", "bouncer", false, nil, .notOverTLS),
            ("plaintext even with names", "bouncer", false, .success(CertificateNames(commonNames: ["bouncer"])), .notOverTLS),
            ("no certificate", "bouncer", true, nil, .noCertificate),
            ("unreadable certificate", "bouncer", true, .failure(Malformed()), .unreadableCertificate),
            ("empty user never matches an empty list", "", true, .success(CertificateNames()), .nameMismatch),
        ]
        for test in cases {
            XCTAssertEqual(CertificateLogin.refusal(user: test.user, known: true, overTLS: test.overTLS, names: test.names),
                           test.refusal, test.name)
        }
        // A user pgrelay does not know is refused even when the certificate names it, after the
        // TLS checks (PgBouncer's order: TLS, certificate, mock authentication, name).
        let unknownUser: [(name: String, overTLS: Bool, names: Result<CertificateNames, Error>?, refusal: CertificateLogin.Refusal)] = [
            ("certificate naming an unknown user", true, .success(CertificateNames(commonNames: ["ghost"])), .unknownUser),
            ("unknown user with a certificate naming another", true, .success(CertificateNames(commonNames: ["bouncer"])), .unknownUser),
            ("unknown user with an unreadable certificate", true, .failure(Malformed()), .unknownUser),
            ("plaintext first", false, .success(CertificateNames(commonNames: ["ghost"])), .notOverTLS),
            ("no certificate first", true, nil, .noCertificate),
        ]
        for test in unknownUser {
            XCTAssertEqual(CertificateLogin.refusal(user: "ghost", known: false, overTLS: test.overTLS, names: test.names),
                           test.refusal, test.name)
        }
        XCTAssertEqual(CertificateLogin.failed.message, "certificate authentication failed")
    }
}
