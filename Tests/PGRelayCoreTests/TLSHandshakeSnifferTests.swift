import XCTest
@testable import PGRelayCore

final class TLSHandshakeSnifferTests: XCTestCase {
    // MARK: building server flights

    private func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    private func record(_ type: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [type, 0x03, 0x03] + u16(UInt16(payload.count)) + payload
    }

    private func message(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        [type, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    private func serverHello(version: UInt16 = 0x0303, suite: UInt16, random: [UInt8] = Array(repeating: 7, count: 32),
                             extensions: [(UInt16, [UInt8])] = []) -> [UInt8] {
        let ext = extensions.flatMap { u16($0.0) + u16(UInt16($0.1.count)) + $0.1 }
        let body = u16(version) + random + [32] + Array(repeating: 1, count: 32) + u16(suite) + [0] + u16(UInt16(ext.count)) + ext
        return message(2, body)
    }

    private func tls13Hello(suite: UInt16, group: UInt16, random: [UInt8] = Array(repeating: 7, count: 32)) -> [UInt8] {
        serverHello(suite: suite, random: random,
                    extensions: [(0x002B, u16(0x0304)), (0x0033, u16(group) + u16(32) + Array(repeating: 9, count: 32))])
    }

    private let helloRetryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    private func sniff(_ chunks: [[UInt8]]) -> TLSHandshakeSniffer {
        var sniffer = TLSHandshakeSniffer()
        for chunk in chunks { sniffer.feed(chunk) }
        return sniffer
    }

    // MARK: tests

    func testFlights() {
        let certificate = message(11, Array(repeating: 0x30, count: 3000))
        let p256KeyExchange = message(12, [3] + u16(0x0017) + [65] + Array(repeating: 4, count: 65))
        let cases: [(name: String, flight: [UInt8], expected: String, finished: Bool)] = [
            ("TLS 1.3", record(22, tls13Hello(suite: 0x1302, group: 0x001D)) + record(20, [1]) + record(23, [1, 2, 3]),
             "TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519", true),
            ("TLS 1.3 after a HelloRetryRequest",
             record(22, tls13Hello(suite: 0x1301, group: 0x0017, random: helloRetryRandom)) + record(20, [1])
                + record(22, tls13Hello(suite: 0x1301, group: 0x0017)),
             "TLSv1.3/TLS_AES_128_GCM_SHA256/ECDH=prime256v1", true),
            ("TLS 1.2 ECDHE, messages in separate records",
             record(22, serverHello(suite: 0xC02B)) + record(22, certificate) + record(22, p256KeyExchange)
                + record(22, message(14, [])),
             "TLSv1.2/ECDHE-ECDSA-AES128-GCM-SHA256/ECDH=prime256v1", true),
            ("TLS 1.2 ECDHE, one record",
             record(22, serverHello(suite: 0xC030) + message(11, [0, 0, 0]) + message(12, [3] + u16(0x001D) + [32])),
             "TLSv1.2/ECDHE-RSA-AES256-GCM-SHA384/ECDH=X25519", true),
            ("TLS 1.2 RSA key exchange", record(22, serverHello(suite: 0x009C)), "TLSv1.2/AES128-GCM-SHA256", true),
            ("unknown suite and group", record(22, tls13Hello(suite: 0x1305, group: 0x0101)),
             "TLSv1.3/0x1305/ECDH=0x0101", true),
            ("alert instead of a ServerHello", record(21, [2, 40]), "", true),
            ("truncated ServerHello", record(22, message(2, [3, 3, 1, 2])), "", true),
            ("unknown version", record(22, serverHello(version: 0x0300, suite: 0x002F)), "", true),
            ("record longer than TLS allows", [22, 3, 3, 0xFF, 0xFF], "", true),
            ("handshake message longer than the limit", record(22, [2, 0x7F, 0xFF, 0xFF]), "", true),
            // A TLS 1.2 certificate message one byte over the buffer limit: stop with what is known.
            ("certificate over the limit", record(22, serverHello(suite: 0xC02F) + [11, 0x00, 0xFF, 0xFD]),
             "TLSv1.2/ECDHE-RSA-AES128-GCM-SHA256", true),
            ("certificate at the limit is waited for", record(22, serverHello(suite: 0xC02F) + [11, 0x00, 0xFF, 0xFC]),
             "TLSv1.2/ECDHE-RSA-AES128-GCM-SHA256", false),
        ]
        for test in cases {
            let whole = sniff([test.flight])
            XCTAssertEqual(whole.description, test.expected, test.name)
            XCTAssertEqual(whole.isFinished, test.finished, test.name)
            let byteByByte = sniff(test.flight.map { [$0] })
            XCTAssertEqual(byteByByte.description, test.expected, "\(test.name), byte by byte")
        }
    }
}
