import Foundation
import NIOSSL
import PGRelayCore
import XCTest
@testable import PGRelayServer

final class TLSContextStoreTests: XCTestCase {
    private func config(_ settings: String) throws -> Config {
        try ConfigLoader.parse(text: "[pgrelay]\n\(settings)\n[databases]\napp = host=127.0.0.1\n", path: "test.ini").config
    }

    private func setupError(_ settings: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try TLSContextStore.build(from: config(settings))
            XCTFail("expected a setup error", file: file, line: line)
        } catch let error as TLSContextStore.SetupError {
            return error.description
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    func testSetupErrorsNameTheKey() {
        let cases: [(settings: String, mentions: String)] = [
            ("client_tls_sslmode = require", "client_tls_cert_file"),
            ("client_tls_sslmode = verify-full\nclient_tls_cert_file = /nonexistent/a.crt", "client_tls_cert_file"),
            ("client_tls_sslmode = require\nclient_tls_cert_file = /nonexistent/a.crt\nclient_tls_key_file = /nonexistent/a.key",
             "client_tls_cert_file /nonexistent/a.crt"),
            ("server_tls_sslmode = verify-ca\nserver_tls_ca_file = /nonexistent/ca.crt", "server_tls_ca_file /nonexistent/ca.crt"),
            ("server_tls_sslmode = require\nserver_tls_cert_file = /nonexistent/c.crt", "server_tls_cert_file and server_tls_key_file"),
        ]
        for test in cases {
            let message = setupError(test.settings)
            XCTAssertTrue(message?.contains(test.mentions) == true, "\(test.settings): \(message ?? "nil")")
        }
    }

    func testDisabledAndCertificateLessModesBuildNothing() throws {
        let off = try TLSContextStore.build(from: config(""))
        XCTAssertNil(off.client)
        XCTAssertNil(off.server)
        // server_tls_sslmode = prefer needs a context to offer TLS with.
        XCTAssertNotNil(try TLSContextStore.build(from: config("server_tls_sslmode = prefer")).server)
        // prefer without a certificate answers 'N' rather than refusing to start (as PgBouncer).
        let prefer = try TLSContextStore.build(from: config("client_tls_sslmode = prefer"))
        XCTAssertNil(prefer.client)
        // Server side without a CA file: system trust roots; no files needed.
        let server = try TLSContextStore.build(from: config("server_tls_sslmode = require"))
        XCTAssertNotNil(server.server)
    }

    func testCertificateAndMismatchedKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgrelay-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["a", "b"] {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt", "-days", "1", "-subj", "/CN=localhost"]
            openssl.standardError = FileHandle.nullDevice
            do { try openssl.run() } catch { throw XCTSkip("openssl not available") }
            openssl.waitUntilExit()
            XCTAssertEqual(openssl.terminationStatus, 0)
        }
        let good = try TLSContextStore.build(from: config(
            "client_tls_sslmode = verify-ca\nclient_tls_cert_file = \(dir)/a.crt\nclient_tls_key_file = \(dir)/a.key\nclient_tls_ca_file = \(dir)/b.crt"))
        XCTAssertNotNil(good.client)
        let message = setupError("client_tls_sslmode = require\nclient_tls_cert_file = \(dir)/a.crt\nclient_tls_key_file = \(dir)/b.key")
        XCTAssertTrue(message?.contains("does the key match the certificate") == true, message ?? "nil")
        let store = TLSContextStore()
        XCTAssertThrowsError(try store.rebuild(from: config("client_tls_sslmode = require")))
        XCTAssertNil(store.clientContext, "a failed rebuild keeps what was there")
    }

    /// The setup in use is what a reload or SET installed last; the server connections are to be
    /// replaced only when the server side really changed (mode, versions, files).
    func testInstallSaysWhenServerConnectionsMustBeReplaced() throws {
        let store = TLSContextStore()
        XCTAssertEqual(store.serverSide.mode, .disable, "nothing in use before the first setup")
        XCTAssertFalse(try store.rebuild(from: config("server_tls_sslmode = prefer")), "the first setup replaces nothing")
        XCTAssertEqual(store.serverSide.mode, .prefer)
        XCTAssertFalse(try store.rebuild(from: config("server_tls_sslmode = prefer")), "same settings")
        XCTAssertFalse(try store.rebuild(from: config("server_tls_sslmode = prefer\nclient_tls_sslmode = prefer")), "client side only")
        XCTAssertEqual(store.clientSide.mode, .prefer)
        XCTAssertTrue(try store.rebuild(from: config("server_tls_sslmode = prefer\nserver_tls_protocols = tlsv1.2")))
        XCTAssertTrue(try store.rebuild(from: config("server_tls_sslmode = disable")))
        XCTAssertNil(store.serverContext)
        XCTAssertFalse(try store.rebuild(from: config("server_tls_sslmode = disable\nserver_tls_protocols = all")),
                       "versions do not matter while TLS is off")
        XCTAssertThrowsError(try store.rebuild(from: config("server_tls_sslmode = require\nserver_tls_key_file = /k.key")))
        XCTAssertEqual(store.serverSide.mode, .disable, "a setup that cannot be built leaves the one in use")
    }

    /// Every shortcut and suite name resolves to a list BoringSSL takes: swift-nio-ssl would stop
    /// the process on a cipher string BoringSSL refuses, so this must hold for every value.
    func testEveryCipherSelectionIsAcceptedByBoringSSL() throws {
        let values = Array(TLSCipherSelection.shortcuts.keys) + TLSCipherSuite.tls12.map { $0.name }.filter { !$0.contains("PSK") }
        for value in values {
            for side in ["client", "server"] {
                let built = try TLSContextStore.build(from: config(
                    "server_tls_sslmode = require\n\(side)_tls_ciphers = \(value)\n\(side)_tls_protocols = all"))
                XCTAssertNotNil(built.server, value)
            }
        }
    }

    /// The suite table's names and code points are BoringSSL's: each name alone selects its code.
    func testSuiteNamesAndCodesMatchBoringSSL() throws {
        for suite in TLSCipherSuite.tls12 {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.cipherSuites = suite.name
            XCTAssertEqual(tls.cipherSuiteValues.map { $0.rawValue }.filter { !(0x1301...0x1303).contains($0) },
                           [suite.code], suite.name)
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.cipherSuites = try TLSCipherSelection("fast").cipherList
        XCTAssertEqual(tls.cipherSuiteValues.map { $0.rawValue }.filter { !(0x1301...0x1303).contains($0) },
                       try TLSCipherSelection("fast").suites.map { $0.code }, "order kept")
    }
}
