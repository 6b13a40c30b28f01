import XCTest
@testable import PGRelayCore

/// `*_tls_protocols` and `*_tls_ciphers`: PgBouncer's syntax, resolved for BoringSSL.
final class TLSSettingsTests: XCTestCase {
    func testProtocolLists() throws {
        let cases: [(text: String, min: TLSProtocolVersion, max: TLSProtocolVersion)] = [
            ("secure", .tls1_2, .tls1_3),
            ("default", .tls1_2, .tls1_3),
            ("all", .tls1_0, .tls1_3),
            ("legacy", .tls1_0, .tls1_3),
            ("tlsv1.3", .tls1_3, .tls1_3),
            ("tlsv1.2", .tls1_2, .tls1_2),
            ("tlsv1.2,tlsv1.3", .tls1_2, .tls1_3),
            ("TLSv1.2:TLSv1.3", .tls1_2, .tls1_3),
            (" tlsv1.1 , tlsv1.2 ", .tls1_1, .tls1_2),
            ("tlsv1", .tls1_0, .tls1_2),
            ("tlsv1.0,tlsv1.1,tlsv1.2,tlsv1.3", .tls1_0, .tls1_3),
            ("!tlsv1.0,!tlsv1.1", .tls1_2, .tls1_3),
            ("all,!tlsv1.3", .tls1_0, .tls1_2),
            ("secure,!tlsv1.2", .tls1_3, .tls1_3),
        ]
        for test in cases {
            let range = try TLSProtocolRange(test.text)
            XCTAssertEqual(range, TLSProtocolRange(minimum: test.min, maximum: test.max), test.text)
        }
    }

    func testMalformedProtocolLists() {
        let cases: [(text: String, fragment: String)] = [
            ("", "unknown TLS protocol \"\""),
            ("tlsv1.4", "unknown TLS protocol \"tlsv1.4\""),
            ("ssl3", "unknown TLS protocol \"ssl3\""),
            ("tlsv1.2,,tlsv1.3", "unknown TLS protocol \"\""),
            ("tlsv1.2;tlsv1.3", "unknown TLS protocol"),
            ("!all", "no TLS protocol version left"),
            ("tlsv1.0,tlsv1.2", "must be contiguous (TLSv1.1 missing between TLSv1 and TLSv1.2)"),
            ("all,!tlsv1.2", "must be contiguous"),
            (String(repeating: "tlsv1.2,", count: 40), "longer than 256"),
        ]
        for test in cases {
            XCTAssertThrowsError(try TLSProtocolRange(test.text), test.text) { error in
                XCTAssertTrue("\(error)".contains(test.fragment), "\(test.text): \(error)")
            }
        }
    }

    func testCipherShortcuts() throws {
        let aeadForwardSecret = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                                 "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                                 "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
                                 "ECDHE-PSK-CHACHA20-POLY1305"]
        XCTAssertEqual(try names("default"), aeadForwardSecret)
        XCTAssertEqual(try names("SECURE"), aeadForwardSecret)
        let compat = try names("compat")
        XCTAssertEqual(compat.count, TLSCipherSuite.tls12.count - 1)
        XCTAssertFalse(compat.contains("DES-CBC3-SHA"))
        XCTAssertEqual(try names("legacy"), compat)
        XCTAssertEqual(try names("all"), compat + ["DES-CBC3-SHA"])
        XCTAssertEqual(try names("insecure"), try names("all"))

        let normal = try names("normal")
        XCTAssertEqual(normal.first, "ECDHE-ECDSA-AES128-GCM-SHA256")
        XCTAssertEqual(normal.last, "DES-CBC3-SHA")
        // ECDHE before RSA key exchange; within each, TLS 1.2 suites before the SHA-1 ones.
        let firstRSA = try XCTUnwrap(normal.firstIndex(of: "AES128-GCM-SHA256"))
        XCTAssertTrue(normal[..<firstRSA].allSatisfy { $0.hasPrefix("ECDHE-") })
        XCTAssertLessThan(try XCTUnwrap(normal.firstIndex(of: "ECDHE-RSA-AES128-SHA256")),
                          try XCTUnwrap(normal.firstIndex(of: "ECDHE-RSA-AES128-SHA")))
        let fast = try names("fast")
        XCTAssertEqual(Set(fast), Set(normal))
        XCTAssertLessThan(try XCTUnwrap(fast.firstIndex(of: "ECDHE-RSA-CHACHA20-POLY1305")),
                          try XCTUnwrap(fast.firstIndex(of: "ECDHE-RSA-AES256-GCM-SHA384")),
                          "fast puts AES-256 after the other strong suites")
    }

    func testCipherStrings() throws {
        let cases: [(text: String, expected: [String])] = [
            ("ECDHE-RSA-AES256-GCM-SHA384", ["ECDHE-RSA-AES256-GCM-SHA384"]),
            ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", ["ECDHE-RSA-AES128-GCM-SHA256"]),
            ("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
             ["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]),
            // OpenSSL separators other than ':' are accepted, as BoringSSL does.
            ("ECDHE-RSA-AES128-GCM-SHA256, AES256-SHA", ["ECDHE-RSA-AES128-GCM-SHA256", "AES256-SHA"]),
            ("ECDHE+aRSA+AESGCM", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]),
            ("aRSA+AESGCM:!kRSA", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]),
            ("ECDHE+aRSA+AESGCM:+AES128", ["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]),
            ("aRSA+AES128:@STRENGTH:aRSA+CHACHA20",
             ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES128-SHA256",
              "AES128-GCM-SHA256", "AES128-SHA", "ECDHE-RSA-CHACHA20-POLY1305"]),
            // Deleted suites come back on a later add; killed ones do not.
            ("ECDHE+aRSA+AESGCM:-AES256:AES256+ECDHE+aRSA+AESGCM",
             ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]),
            ("ECDHE+aRSA+AESGCM:!AES256:ECDHE+aRSA+AES256+AESGCM", ["ECDHE-RSA-AES128-GCM-SHA256"]),
            // 3DES only when named.
            ("RSA+SHA1", ["AES128-SHA", "AES256-SHA"]),
            ("RSA+SHA1:3DES", ["AES128-SHA", "AES256-SHA", "DES-CBC3-SHA"]),
            ("DES-CBC3-SHA", ["DES-CBC3-SHA"]),
            ("TLSv1.2+aRSA+CHACHA20", ["ECDHE-RSA-CHACHA20-POLY1305"]),
            ("SSLv3+ECDHE+aECDSA", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA"]),
            ("DEFAULT:!RSA:!PSK:!aPSK:!SHA1:!AES128:!ECDSA",
             ["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"]),
            // libusual's own strings: OpenSSL-only words select nothing here.
            ("HIGH+EECDH:HIGH+EDH:!SSLv3:!SHA384:!SHA256:!DSS:!aNULL:!PSK:!aPSK:!ECDSA:!AES128:!CHACHA20",
             ["ECDHE-RSA-AES256-GCM-SHA384"]),
            ("DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384",
             ["ECDHE-RSA-AES256-GCM-SHA384"]),
        ]
        for test in cases {
            XCTAssertEqual(try names(test.text), test.expected, test.text)
        }
        XCTAssertEqual(try TLSCipherSelection("ECDHE+aRSA+AESGCM").cipherList,
                       "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    }

    func testMalformedCipherStrings() {
        let cases: [(text: String, fragment: String)] = [
            ("", "empty cipher list"),
            ("   ", "empty cipher list"),
            ("ECDHE+AESGMC", "unknown cipher or alias \"AESGMC\""),
            ("fastest", "unknown cipher or alias \"fastest\""),
            ("high", "unknown cipher or alias \"high\""),
            ("ECDHE++AESGCM", "empty name in cipher rule"),
            ("ECDHE+", "empty name in cipher rule"),
            ("[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-AES256-GCM-SHA384]", "equal-preference groups"),
            ("ECDHE=AES", "unexpected character \"=\""),
            ("@SPEED", "only @STRENGTH"),
            ("DHE-RSA-AES256-GCM-SHA384", "selects no cipher suite"),
            ("TLS_AES_128_GCM_SHA256", "selects no cipher suite"),
            ("ALL:!ALL", "selects no cipher suite"),
            ("CAMELLIA:SEED", "selects no cipher suite"),
            ("PSK", "only PSK suites"),
            (String(repeating: "ECDHE:", count: 400), "longer than 2048"),
        ]
        for test in cases {
            XCTAssertThrowsError(try TLSCipherSelection(test.text), test.text) { error in
                XCTAssertTrue("\(error)".contains(test.fragment), "\(test.text): \(error)")
            }
        }
    }

    func testConfigKeysAcceptAndRejectWithLocation() throws {
        let loaded = try loadConfig(mainSection("client_tls_protocols = tlsv1.3\nserver_tls_ciphers = fast"))
        XCTAssertEqual(loaded.config.clientTLSProtocols, "tlsv1.3")
        XCTAssertEqual(loaded.config.clientTLSCiphers, "default")
        XCTAssertEqual(loaded.config.serverTLSCiphers, "fast")
        XCTAssertEqual(loaded.config.serverTLSProtocols, "secure")
        XCTAssertTrue(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let rows = loaded.config.redactedKeyValues()
        XCTAssertEqual(rows.first { $0.key == "client_tls_protocols" }?.value, "tlsv1.3")
        XCTAssertEqual(rows.first { $0.key == "server_tls_ciphers" }?.value, "fast")

        let cases: [(setting: String, description: String)] = [
            ("client_tls_protocols = tlsv1.4", "pgrelay.ini:2: client_tls_protocols: unknown TLS protocol \"tlsv1.4\""),
            ("server_tls_protocols = tlsv1.0,tlsv1.3", "pgrelay.ini:2: server_tls_protocols: allowed TLS versions must be contiguous"),
            ("client_tls_ciphers = ECDHE+NOPE", "pgrelay.ini:2: client_tls_ciphers: unknown cipher or alias \"NOPE\""),
            ("server_tls_ciphers = DHE-RSA-AES128-SHA", "pgrelay.ini:2: server_tls_ciphers: \"DHE-RSA-AES128-SHA\" selects no cipher suite"),
        ]
        for test in cases {
            let error = configError { try loadConfig(mainSection(test.setting)) }
            XCTAssertEqual(error?.kind, .invalidValue, test.setting)
            XCTAssertTrue(error?.description.hasPrefix(test.description) == true, "\(test.setting): \(String(describing: error))")
        }
    }

    private func names(_ text: String) throws -> [String] {
        try TLSCipherSelection(text).suites.map(\.name)
    }
}
