import PGRelayCore
import XCTest

final class TLSPolicyTests: XCTestCase {
    private let allModes: [TLSMode] = [.disable, .allow, .prefer, .require, .verifyCA, .verifyFull]

    func testSSLRequestAnswer() {
        struct Case { let mode: TLSMode; let loaded: Bool; let unix: Bool; let expected: TLSPolicy.SSLRequestAnswer }
        let cases = [
            Case(mode: .disable, loaded: true, unix: false, expected: .refuseTLS),
            Case(mode: .allow, loaded: true, unix: false, expected: .acceptTLS),
            Case(mode: .prefer, loaded: true, unix: false, expected: .acceptTLS),
            Case(mode: .prefer, loaded: false, unix: false, expected: .refuseTLS),
            Case(mode: .require, loaded: true, unix: false, expected: .acceptTLS),
            Case(mode: .require, loaded: true, unix: true, expected: .refuseTLS),
            Case(mode: .verifyCA, loaded: true, unix: false, expected: .acceptTLS),
            Case(mode: .verifyFull, loaded: false, unix: false, expected: .refuseTLS),
        ]
        for test in cases {
            XCTAssertEqual(TLSPolicy.answer(toSSLRequestWith: test.mode, certificateLoaded: test.loaded, isUnixSocket: test.unix),
                           test.expected, "\(test.mode) loaded=\(test.loaded) unix=\(test.unix)")
        }
    }

    func testStartupWithoutTLS() {
        let plaintextAllowed: [TLSMode: Bool] = [.disable: true, .allow: true, .prefer: true,
                                                  .require: false, .verifyCA: false, .verifyFull: false]
        for mode in allModes {
            XCTAssertEqual(TLSPolicy.acceptsStartup(mode: mode, overTLS: false, isUnixSocket: false), plaintextAllowed[mode], "\(mode)")
            XCTAssertTrue(TLSPolicy.acceptsStartup(mode: mode, overTLS: true, isUnixSocket: false), "\(mode) over TLS")
            XCTAssertTrue(TLSPolicy.acceptsStartup(mode: mode, overTLS: false, isUnixSocket: true), "\(mode) on a Unix socket")
        }
    }

    func testDirectTLSDetection() {
        XCTAssertTrue(TLSPolicy.isDirectTLS(firstByte: 0x16))
        // A StartupMessage/SSLRequest length starts with 0x00 for any sane size.
        for byte: UInt8 in [0x00, 0x01, 0x15, 0x17, 0x80, 0xFF] {
            XCTAssertFalse(TLSPolicy.isDirectTLS(firstByte: byte), "\(byte)")
        }
    }

    func testServerAnswer() {
        struct Case { let byte: UInt8; let mode: TLSMode; let expected: TLSPolicy.ServerAnswerAction }
        let cases = [
            Case(byte: UInt8(ascii: "S"), mode: .prefer, expected: .startTLS),
            Case(byte: UInt8(ascii: "S"), mode: .verifyFull, expected: .startTLS),
            Case(byte: UInt8(ascii: "N"), mode: .allow, expected: .continuePlaintext),
            Case(byte: UInt8(ascii: "N"), mode: .prefer, expected: .continuePlaintext),
            Case(byte: UInt8(ascii: "N"), mode: .require,
                 expected: .fail("server does not support SSL, but server_tls_sslmode = require requires it")),
            Case(byte: UInt8(ascii: "N"), mode: .verifyCA,
                 expected: .fail("server does not support SSL, but server_tls_sslmode = verify-ca requires it")),
            Case(byte: UInt8(ascii: "E"), mode: .prefer, expected: .fail("server answered the SSL request with an error")),
            Case(byte: 0x00, mode: .prefer, expected: .fail("server sent an invalid answer to the SSL request")),
            Case(byte: UInt8(ascii: "s"), mode: .require, expected: .fail("server sent an invalid answer to the SSL request")),
        ]
        for test in cases {
            XCTAssertEqual(TLSPolicy.action(forServerAnswer: test.byte, mode: test.mode), test.expected, "\(test.byte) \(test.mode)")
        }
    }

    func testVerificationLevels() {
        let expected: [TLSMode: TLSPolicy.ServerVerification] = [.disable: .none, .allow: .none, .prefer: .none, .require: .none,
                                                                  .verifyCA: .chain, .verifyFull: .chainAndHostName]
        for mode in allModes {
            XCTAssertEqual(TLSPolicy.serverVerification(mode), expected[mode], "\(mode)")
            XCTAssertEqual(TLSPolicy.verifiesClientCertificates(mode), mode == .verifyCA || mode == .verifyFull, "\(mode)")
            XCTAssertEqual(TLSPolicy.sendsSSLRequest(mode), mode != .disable, "\(mode)")
            XCTAssertEqual(TLSPolicy.sendsSSLRequest(mode, overUnixSocket: false), mode != .disable, "\(mode) over TCP")
            XCTAssertFalse(TLSPolicy.sendsSSLRequest(mode, overUnixSocket: true), "\(mode) over a Unix socket")
        }
    }
}
