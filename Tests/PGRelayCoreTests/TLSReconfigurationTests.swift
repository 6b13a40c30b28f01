import XCTest
@testable import PGRelayCore

/// TLS changes while running (console SET, RELOAD), and BoringSSL's errors in OpenSSL's words.
final class TLSReconfigurationTests: XCTestCase {
    func testWhichKeysRebuildTheTLSSetup() {
        let cases: [(key: String, affects: Bool)] = [
            ("client_tls_sslmode", true), ("server_tls_ca_file", true), ("CLIENT_TLS_KEY_FILE", true),
            ("client_tls13_ciphers", true), ("server_tls13_ciphers", true), ("server_tls_protocols", true),
            ("auth_type", false), ("server_lifetime", false), ("tls", false), ("client_tls", false),
            ("pool_mode", false), ("", false),
        ]
        for test in cases {
            XCTAssertEqual(TLSReconfiguration.affectsTLS(key: test.key), test.affects, test.key)
        }
    }

    func testConfigSidesCarryEveryKey() throws {
        let config = try ConfigLoader.parse(text: """
            [pgrelay]
            client_tls_sslmode = prefer
            client_tls_cert_file = /c.crt
            client_tls_key_file = /c.key
            client_tls_ca_file = /ca.crt
            client_tls_protocols = tlsv1.3
            client_tls_ciphers = fast
            server_tls_sslmode = verify-full
            server_tls_ca_file = /sca.crt
            [databases]
            app = host=127.0.0.1
            """, path: "t.ini").config
        XCTAssertEqual(config.clientTLS, TLSSideSettings(side: .client, mode: .prefer, certFile: "/c.crt", keyFile: "/c.key",
                                                         caFile: "/ca.crt", protocols: "tlsv1.3", ciphers: "fast"))
        XCTAssertEqual(config.serverTLS, TLSSideSettings(side: .server, mode: .verifyFull, caFile: "/sca.crt"))
        XCTAssertEqual(config.serverTLS.key("ca_file"), "server_tls_ca_file")
        XCTAssertEqual(Config().serverTLS.mode, .disable)
    }

    /// PgBouncer's file run unchanged keeps PgBouncer's server_tls_sslmode default; pgrelay's own
    /// file keeps pgrelay's; a value set in either file wins.
    func testWhenServerConnectionsAreReplaced() {
        func fingerprint(_ mode: TLSMode, protocols: String = "secure", ciphers: String = "default",
                         files: [[UInt8]] = [[], [], []]) -> TLSSetupFingerprint {
            TLSSetupFingerprint(settings: TLSSideSettings(side: .server, mode: mode, protocols: protocols, ciphers: ciphers),
                                fileContents: files)
        }
        let ca: [[UInt8]] = [[], [], Array("-----BEGIN CERTIFICATE-----A".utf8)]
        let rotatedCA: [[UInt8]] = [[], [], Array("-----BEGIN CERTIFICATE-----B".utf8)]
        let cases: [(name: String, inUse: TLSSetupFingerprint?, new: TLSSetupFingerprint, replace: Bool)] = [
            ("first setup at start", nil, fingerprint(.require), false),
            ("nothing changed", fingerprint(.prefer), fingerprint(.prefer), false),
            ("same versions spelt another way", fingerprint(.prefer, protocols: "secure"),
             fingerprint(.prefer, protocols: "tlsv1.2,tlsv1.3"), false),
            ("same suites spelt another way", fingerprint(.require, ciphers: "default"), fingerprint(.require, ciphers: "secure"), false),
            ("mode changed", fingerprint(.prefer), fingerprint(.allow), true),
            ("TLS turned off", fingerprint(.require), fingerprint(.disable), true),
            ("TLS turned on", fingerprint(.disable), fingerprint(.allow), true),
            ("versions changed", fingerprint(.prefer, protocols: "tlsv1.0"), fingerprint(.prefer, protocols: "secure"), true),
            ("suites changed", fingerprint(.require, ciphers: "default"), fingerprint(.require, ciphers: "all"), true),
            ("CA file rewritten in place", fingerprint(.verifyFull, files: ca), fingerprint(.verifyFull, files: rotatedCA), true),
            ("versions changed while TLS is off", fingerprint(.disable, protocols: "tlsv1.0"),
             fingerprint(.disable, protocols: "secure"), false),
            ("files changed while TLS is off", fingerprint(.disable, files: ca), fingerprint(.disable, files: rotatedCA), false),
            ("unparsable versions compared as written", fingerprint(.prefer, protocols: "tlsv9"),
             fingerprint(.prefer, protocols: "tlsv9"), false),
        ]
        for test in cases {
            XCTAssertEqual(TLSReconfiguration.serverConnectionsMustBeReplaced(inUse: test.inUse, new: test.new), test.replace, test.name)
        }
    }

    func testFileBoundariesMatter() {
        let settings = TLSSideSettings(side: .server, mode: .require)
        // The same bytes split differently between certificate and key are another setup.
        XCTAssertNotEqual(TLSSetupFingerprint(settings: settings, fileContents: [[1, 2], [3], []]),
                          TLSSetupFingerprint(settings: settings, fileContents: [[1], [2, 3], []]))
    }

    func testBoringSSLReasonsInOpenSSLWords() {
        let cases: [(text: String, reasons: [String])] = [
            ("sslError([Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /x/handshake.cc:320])",
             ["certificate verify failed"]),
            ("sslError([Error: 1 error:10000410:SSL routines:OPENSSL_internal:SSLV3_ALERT_HANDSHAKE_FAILURE at a.cc:1, "
                + "Error: 2 error:1000009a:SSL routines:OPENSSL_internal:NO_CIPHERS_AVAILABLE at b.cc:2])",
             ["sslv3 alert handshake failure", "no ciphers available"]),
            ("error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
             ["certificate verify failed"]),
            ("error:1000045c:SSL routines:OPENSSL_internal:TLSV1_ALERT_CERTIFICATE_REQUIRED]", ["tlsv1 alert certificate required"]),
            // OpenSSL 3 already speaks in words; nothing to translate.
            ("error:0A000086:SSL routines::certificate verify failed", []),
            ("uncleanShutdown", []),
            ("", []),
            ("error:", []),
            ("error:zz:SSL routines:f:CERTIFICATE_VERIFY_FAILED", []),
            ("error:1:lib:func", []),
            ("error:1:lib:func:", []),
        ]
        for test in cases {
            XCTAssertEqual(TLSErrorText.reasons(in: test.text), test.reasons, test.text)
        }
        XCTAssertEqual(TLSErrorText.describe("handshake: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at x"),
                       "certificate verify failed")
        XCTAssertEqual(TLSErrorText.describe("uncleanShutdown"), "uncleanShutdown")
    }
}
