import NIOCore
import PGWire
import XCTest

final class FrontendMessageTests: XCTestCase {
    /// Bind parameters after the statement name: one binary format code, one 4-byte parameter
    /// (int4 42), no result format codes.
    static let bindRemainder: [UInt8] = [0, 1, 0, 1, 0, 1, 0, 0, 0, 4, 0, 0, 0, 42, 0, 0]

    /// Messages that decode to a value and encode back to exactly the same bytes.
    static let roundTrips: [(String, [UInt8], FrontendMessage)] = [
        ("Query", [0x51, 0, 0, 0, 13] + Wire.text("SELECT 1\0"), .query("SELECT 1")),
        ("Query empty", [0x51, 0, 0, 0, 5, 0], .query("")),
        ("Parse named with parameter types", [0x50, 0, 0, 0, 31] + Wire.text("s1\0SELECT $1, $2\0") + [0, 2, 0, 0, 0, 23, 0, 0, 0, 25],
         .parse(.init(name: "s1", query: "SELECT $1, $2", parameterTypes: [23, 25]))),
        ("Parse unnamed without types", [0x50, 0, 0, 0, 16] + Wire.text("\0SELECT 1\0") + [0, 0],
         .parse(.init(name: "", query: "SELECT 1", parameterTypes: []))),
        ("Parse unspecified type 0", [0x50, 0, 0, 0, 21] + Wire.text("\0SELECT $1\0") + [0, 1, 0, 0, 0, 0],
         .parse(.init(name: "", query: "SELECT $1", parameterTypes: [0]))),
        ("Bind keeps the remainder", [0x42, 0, 0, 0, 24] + Wire.text("\0s1\0") + bindRemainder,
         .bind(.init(portal: "", statement: "s1", remainder: Wire.buffer(bindRemainder)))),
        ("Bind named portal, no parameters", [0x42, 0, 0, 0, 16] + Wire.text("c1\0s1\0") + [0, 0, 0, 0, 0, 0],
         .bind(.init(portal: "c1", statement: "s1", remainder: Wire.buffer([0, 0, 0, 0, 0, 0])))),
        ("Describe statement", [0x44, 0, 0, 0, 8, 0x53] + Wire.text("s1\0"), .describe(.init(kind: .statement, name: "s1"))),
        ("Describe unnamed portal", [0x44, 0, 0, 0, 6, 0x50, 0], .describe(.init(kind: .portal, name: ""))),
        ("Close statement", [0x43, 0, 0, 0, 8, 0x53] + Wire.text("s1\0"), .close(.init(kind: .statement, name: "s1"))),
        ("Close portal", [0x43, 0, 0, 0, 8, 0x50] + Wire.text("c1\0"), .close(.init(kind: .portal, name: "c1"))),
        ("Execute unnamed, all rows", [0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0], .execute(portal: "", maxRows: 0)),
        ("Execute named, 10 rows", [0x45, 0, 0, 0, 11] + Wire.text("c1\0") + [0, 0, 0, 10], .execute(portal: "c1", maxRows: 10)),
        ("Sync", [0x53, 0, 0, 0, 4], .sync),
        ("Flush", [0x48, 0, 0, 0, 4], .flush),
        ("Terminate", [0x58, 0, 0, 0, 4], .terminate),
        ("CopyData empty", [0x64, 0, 0, 0, 4], .copyData),
        ("CopyDone", [0x63, 0, 0, 0, 4], .copyDone),
        ("CopyFail", [0x66, 0, 0, 0, 9] + Wire.text("oops\0"), .copyFail("oops")),
        ("FunctionCall empty", [0x46, 0, 0, 0, 4], .functionCall),
        ("PasswordMessage", [0x70, 0, 0, 0, 11] + Wire.text("secret\0"), .password(Wire.buffer(Wire.text("secret\0")))),
    ]

    func testRoundTrips() throws {
        for (label, bytes, message) in Self.roundTrips {
            XCTAssertEqual(try FrontendMessage.decode(Wire.frame(bytes)), message, label)
            XCTAssertEqual(Wire.written { $0.writeFrontendMessage(message) }, bytes, "\(label): encoder")
        }
    }

    func testBodiesTheProxyDoesNotNeedAreSkipped() throws {
        // CopyData and FunctionCall bodies are forwarded as bytes; decoding only names them.
        XCTAssertEqual(try FrontendMessage.decode(Wire.frame([0x64, 0, 0, 0, 7, 1, 2, 3])), .copyData)
        XCTAssertEqual(try FrontendMessage.decode(Wire.frame([0x46, 0, 0, 0, 8, 0, 0, 0x04, 0xD2])), .functionCall)
    }

    func testUninspectedTypesDecodeToNil() throws {
        for type in [UInt8(ascii: "x"), UInt8(ascii: "Z"), 0, 0xFF] {
            XCTAssertNil(try FrontendMessage.decode(Wire.frame([type, 0, 0, 0, 4])), "type \(type)")
        }
    }

    func testAuthenticationMessageEncoders() {
        XCTAssertEqual(Wire.written { $0.writePasswordMessage("md598a0412b9c31436fc53776e863350083") },
                       [0x70, 0, 0, 0, 40] + Wire.text("md598a0412b9c31436fc53776e863350083\0"))
        XCTAssertEqual(Wire.written { $0.writeSASLInitialResponse(mechanism: "SCRAM-SHA-256", data: Wire.text("n,,n=,r=abc")) },
                       [0x70, 0, 0, 0, 33] + Wire.text("SCRAM-SHA-256\0") + [0, 0, 0, 11] + Wire.text("n,,n=,r=abc"))
        XCTAssertEqual(Wire.written { $0.writeSASLResponse(data: Wire.text("c=biws")) }, [0x70, 0, 0, 0, 10] + Wire.text("c=biws"))
    }

    func testPasswordBodyIsHandedOverUninterpreted() throws {
        let sasl = [0x70, 0, 0, 0, 33] + Wire.text("SCRAM-SHA-256\0") + [0, 0, 0, 11] + Wire.text("n,,n=,r=abc")
        guard case .password(let body)? = try FrontendMessage.decode(Wire.frame(sasl)) else { return XCTFail() }
        XCTAssertEqual(Wire.bytes(body), Array(sasl.dropFirst(5)))
    }

    func testParseAcceptsMoreThan32767ParameterTypes() throws {
        // PostgreSQL reads the count as an unsigned 16-bit number (libpq allows 65535 parameters).
        let count = 40_000
        let body = Wire.text("\0SELECT 1\0") + [UInt8(count >> 8), UInt8(count & 0xFF)] + [UInt8](repeating: 0, count: count * 4)
        let bytes = [0x50] + Wire.int32(Int32(body.count + 4)) + body
        guard case .parse(let parse)? = try FrontendMessage.decode(Wire.frame(bytes)) else { return XCTFail() }
        XCTAssertEqual(parse.parameterTypes.count, count)
        XCTAssertEqual(Wire.written { $0.writeFrontendMessage(.parse(parse)) }, bytes)
    }

    static let malformed: [(String, [UInt8])] = [
        ("Query unterminated", [0x51, 0, 0, 0, 7] + Wire.text("abc")),
        ("Query empty body", [0x51, 0, 0, 0, 4]),
        ("Parse name only", [0x50, 0, 0, 0, 7] + Wire.text("s1\0")),
        ("Parse without type count", [0x50, 0, 0, 0, 16] + Wire.text("s1\0SELECT 1\0")),
        ("Parse count larger than the types sent", [0x50, 0, 0, 0, 22] + Wire.text("s1\0SELECT 1\0") + [0, 2, 0, 0, 0, 23]),
        ("Parse truncated type", [0x50, 0, 0, 0, 20] + Wire.text("s1\0SELECT 1\0") + [0, 1, 0, 0]),
        ("Bind without statement terminator", [0x42, 0, 0, 0, 7] + Wire.text("\0s1")),
        ("Bind empty", [0x42, 0, 0, 0, 4]),
        ("Describe empty", [0x44, 0, 0, 0, 4]),
        ("Describe bad kind", [0x44, 0, 0, 0, 8, 0x58] + Wire.text("s1\0")),
        ("Describe unterminated name", [0x44, 0, 0, 0, 7, 0x53] + Wire.text("s1")),
        ("Close bad kind", [0x43, 0, 0, 0, 6, 0x73, 0]),
        ("Close without name", [0x43, 0, 0, 0, 5, 0x53]),
        ("Execute without row limit", [0x45, 0, 0, 0, 5, 0]),
        ("Execute short row limit", [0x45, 0, 0, 0, 7, 0, 0, 0]),
        ("Execute unterminated portal", [0x45, 0, 0, 0, 6] + Wire.text("c1")),
        ("CopyFail unterminated", [0x66, 0, 0, 0, 8] + Wire.text("oops")),
    ]

    func testMalformedBodiesAreProtocolViolations() throws {
        for (label, bytes) in Self.malformed {
            assertProtocolViolation(try FrontendMessage.decode(Wire.frame(bytes)), label)
        }
    }
}
