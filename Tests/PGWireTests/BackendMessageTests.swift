import NIOCore
import PGWire
import XCTest

final class BackendMessageTests: XCTestCase {
    static let errorBody = Wire.text("SERROR\0VERROR\0C42P01\0Mrelation \"x\" does not exist\0\0")

    /// Messages that decode to a value and that the proxy's encoders write back byte for byte.
    static let roundTrips: [(String, [UInt8], BackendMessage)] = [
        ("AuthenticationOk", [0x52, 0, 0, 0, 8, 0, 0, 0, 0], .authentication(.ok)),
        ("AuthenticationCleartextPassword", [0x52, 0, 0, 0, 8, 0, 0, 0, 3], .authentication(.cleartextPassword)),
        ("AuthenticationMD5Password", [0x52, 0, 0, 0, 12, 0, 0, 0, 5, 0x01, 0x02, 0x03, 0x04], .authentication(.md5Password(salt: [1, 2, 3, 4]))),
        ("AuthenticationSASL", [0x52, 0, 0, 0, 42, 0, 0, 0, 10] + Wire.text("SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0"),
         .authentication(.sasl(mechanisms: ["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]))),
        ("AuthenticationSASLContinue", [0x52, 0, 0, 0, 13, 0, 0, 0, 11] + Wire.text("r=abc"), .authentication(.saslContinue(data: Wire.text("r=abc")))),
        ("AuthenticationSASLFinal", [0x52, 0, 0, 0, 13, 0, 0, 0, 12] + Wire.text("v=xyz"), .authentication(.saslFinal(data: Wire.text("v=xyz")))),
        ("AuthenticationGSS is recognized, not supported", [0x52, 0, 0, 0, 8, 0, 0, 0, 7], .authentication(.unsupported(code: 7))),
        ("AuthenticationKerberosV5", [0x52, 0, 0, 0, 8, 0, 0, 0, 2], .authentication(.unsupported(code: 2))),
        ("ParameterStatus", [0x53, 0, 0, 0, 17] + Wire.text("TimeZone\0UTC\0"), .parameterStatus(name: "TimeZone", value: "UTC")),
        ("BackendKeyData", [0x4B, 0, 0, 0, 12, 0, 0, 0, 42, 0xDE, 0xAD, 0xBE, 0xEF],
         .backendKeyData(CancelRequest(processID: 42, secretKey: Int32(bitPattern: 0xDEAD_BEEF)))),
        ("ReadyForQuery idle", [0x5A, 0, 0, 0, 5, 0x49], .readyForQuery(.idle)),
        ("ReadyForQuery in transaction", [0x5A, 0, 0, 0, 5, 0x54], .readyForQuery(.inTransaction)),
        ("ReadyForQuery failed", [0x5A, 0, 0, 0, 5, 0x45], .readyForQuery(.failed)),
        ("CommandComplete", [0x43, 0, 0, 0, 13] + Wire.text("SELECT 1\0"), .commandComplete(tag: "SELECT 1")),
        ("NegotiateProtocolVersion", [0x76, 0, 0, 0, 21, 0, 0, 0, 0, 0, 0, 0, 1] + Wire.text("_pq_.foo\0"),
         .negotiateProtocolVersion(newestMinor: 0, unrecognized: ["_pq_.foo"])),
        ("NegotiateProtocolVersion without options", [0x76, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 0],
         .negotiateProtocolVersion(newestMinor: 2, unrecognized: [])),
        ("ErrorResponse", [0x45, 0, 0, 0, 55] + errorBody,
         .errorResponse(ErrorFields(sqlState: "42P01", message: "relation \"x\" does not exist"))),
        ("NoticeResponse", Wire.message("N", Wire.text("SNOTICE\0VNOTICE\0C00000\0Mhello\0\0")),
         .noticeResponse(ErrorFields(severity: "NOTICE", sqlState: "00000", message: "hello"))),
    ]

    func testRoundTrips() throws {
        for (label, bytes, message) in Self.roundTrips {
            XCTAssertEqual(try BackendMessage.decode(Wire.frame(bytes)), message, label)
            XCTAssertEqual(Wire.written { $0.write(message) }, bytes, "\(label): encoder")
        }
    }

    func testEmptyBodiedMessages() throws {
        let cases: [(Character, BackendMessage)] = [
            ("1", .parseComplete), ("2", .bindComplete), ("3", .closeComplete), ("n", .noData), ("I", .emptyQueryResponse),
        ]
        for (type, message) in cases {
            let bytes: [UInt8] = [type.asciiValue!, 0, 0, 0, 4]
            XCTAssertEqual(try BackendMessage.decode(Wire.frame(bytes)), message, "\(type)")
            XCTAssertEqual(Wire.written { $0.writeEmptyBackendMessage(type.asciiValue!) }, bytes, "\(type): encoder")
        }
    }

    func testCopyResponsesAreNamedOnly() throws {
        // Overall format 0, one text column.
        let body: [UInt8] = [0, 0, 1, 0, 0]
        XCTAssertEqual(try BackendMessage.decode(Wire.frame(Wire.message("G", body))), .copyInResponse)
        XCTAssertEqual(try BackendMessage.decode(Wire.frame(Wire.message("H", body))), .copyOutResponse)
        XCTAssertEqual(try BackendMessage.decode(Wire.frame(Wire.message("W", body))), .copyBothResponse)
    }

    func testUninspectedTypesDecodeToNil() throws {
        XCTAssertNil(try BackendMessage.decode(Wire.frame(Wire.message("D", [0, 1, 0, 0, 0, 1, 0x31]))), "DataRow")
        XCTAssertNil(try BackendMessage.decode(Wire.frame(Wire.message("T", [0, 0]))), "RowDescription")
        XCTAssertNil(try BackendMessage.decode(Wire.frame(Wire.message("t", [0, 0]))), "ParameterDescription")
        XCTAssertNil(try BackendMessage.decode(Wire.frame(Wire.message("s", []))), "PortalSuspended")
    }

    func testErrorFieldsAccessors() throws {
        guard case .errorResponse(let fields)? = try BackendMessage.decode(Wire.frame(Wire.message("E", Self.errorBody))) else {
            return XCTFail()
        }
        XCTAssertEqual(fields.sqlState, "42P01")
        XCTAssertEqual(fields.message, "relation \"x\" does not exist")
        XCTAssertEqual(fields.severity, "ERROR")
        XCTAssertEqual(fields["S"], "ERROR")
        XCTAssertNil(fields["D"])
        XCTAssertNil(fields["é"], "a non-ASCII code is never a field")
    }

    func testErrorResponseWithoutSQLStateDoesNotCrash() throws {
        // An old or broken server: severity and message only, no 'C' and no 'V'.
        let bytes = Wire.message("E", Wire.text("SFATAL\0Mout of nowhere\0\0"))
        guard case .errorResponse(let fields)? = try BackendMessage.decode(Wire.frame(bytes)) else { return XCTFail() }
        XCTAssertNil(fields.sqlState)
        XCTAssertEqual(fields.severity, "FATAL")
        XCTAssertEqual(fields.message, "out of nowhere")
        guard case .errorResponse(let none)? = try BackendMessage.decode(Wire.frame(Wire.message("E", [0]))) else { return XCTFail() }
        XCTAssertNil(none.sqlState)
        XCTAssertEqual(none.message, "")
        XCTAssertEqual(none.severity, "ERROR")
    }

    func testErrorFieldsEncoderWithDetailAndHint() {
        let fields = ErrorFields(severity: "FATAL", sqlState: "08P01", message: "m", detail: "d", hint: "h")
        XCTAssertEqual(Wire.written { $0.writeErrorResponse(fields) },
                       [0x45, 0, 0, 0, 35] + Wire.text("SFATAL\0VFATAL\0C08P01\0Mm\0Dd\0Hh\0\0"))
    }

    func testRowDescriptionAndDataRowEncoders() {
        // "?column?" int4: table OID 0, attribute 0, type 23, length 4, modifier -1, text format.
        XCTAssertEqual(Wire.written { $0.writeRowDescription([("?column?", 23)]) },
                       [0x54, 0, 0, 0, 33, 0, 1] + Wire.text("?column?\0")
                           + [0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0])
        XCTAssertEqual(Wire.written { $0.writeRowDescription([("name", 25)]) },
                       [0x54, 0, 0, 0, 29, 0, 1] + Wire.text("name\0")
                           + [0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0])
        XCTAssertEqual(Wire.written { $0.writeDataRow(["1", nil, ""]) },
                       [0x44, 0, 0, 0, 19, 0, 3, 0, 0, 0, 1, 0x31, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
    }

    static let malformed: [(String, [UInt8])] = [
        ("Authentication without code", [0x52, 0, 0, 0, 4]),
        ("Authentication short code", [0x52, 0, 0, 0, 6, 0, 0]),
        ("MD5 salt cut short", [0x52, 0, 0, 0, 10, 0, 0, 0, 5, 1, 2]),
        ("SASL list without final empty name", Wire.message("R", [0, 0, 0, 10] + Wire.text("SCRAM-SHA-256\0"))),
        ("SASL mechanism unterminated", Wire.message("R", [0, 0, 0, 10] + Wire.text("SCRAM-SHA-256"))),
        ("ParameterStatus without value", Wire.message("S", Wire.text("TimeZone\0"))),
        ("ParameterStatus unterminated value", Wire.message("S", Wire.text("TimeZone\0UTC"))),
        ("BackendKeyData short", [0x4B, 0, 0, 0, 8, 0, 0, 0, 42]),
        ("ReadyForQuery empty", [0x5A, 0, 0, 0, 4]),
        ("ReadyForQuery unknown status", [0x5A, 0, 0, 0, 5, 0x58]),
        ("ErrorResponse unterminated value", Wire.message("E", Wire.text("SERROR"))),
        ("ErrorResponse without final terminator", Wire.message("E", Wire.text("SERROR\0"))),
        ("ErrorResponse empty body", Wire.message("E", [])),
        ("NoticeResponse unterminated", Wire.message("N", Wire.text("SNOTICE\0Mhi"))),
        ("CommandComplete unterminated", Wire.message("C", Wire.text("SELECT 1"))),
        ("NegotiateProtocolVersion empty", Wire.message("v", [])),
        ("NegotiateProtocolVersion without count", Wire.message("v", [0, 0, 0, 0])),
        ("NegotiateProtocolVersion negative count", Wire.message("v", [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])),
        ("NegotiateProtocolVersion huge count", Wire.message("v", [0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF])),
        ("NegotiateProtocolVersion fewer names than counted", Wire.message("v", [0, 0, 0, 0, 0, 0, 0, 2] + Wire.text("_pq_.a\0"))),
    ]

    func testMalformedBodiesAreProtocolViolations() throws {
        for (label, bytes) in Self.malformed {
            assertProtocolViolation(try BackendMessage.decode(Wire.frame(bytes)), label)
        }
    }
}

extension ByteBuffer {
    /// Writes a backend message with the proxy's encoder for its kind (the test's inverse of decode).
    mutating func write(_ message: BackendMessage) {
        switch message {
        case .authentication(let request): writeAuthenticationRequest(request)
        case .parameterStatus(let name, let value): writeParameterStatus(name: name, value: value)
        case .backendKeyData(let key): writeBackendKeyData(key)
        case .readyForQuery(let status): writeReadyForQuery(status)
        case .errorResponse(let fields): writeErrorResponse(fields)
        case .noticeResponse(let fields): writeNoticeResponse(fields)
        case .commandComplete(let tag): writeCommandComplete(tag)
        case .negotiateProtocolVersion(let minor, let names): writeNegotiateProtocolVersion(newestMinor: minor, unrecognized: names)
        case .parseComplete: writeEmptyBackendMessage(BackendType.parseComplete)
        case .bindComplete: writeEmptyBackendMessage(BackendType.bindComplete)
        case .closeComplete: writeEmptyBackendMessage(BackendType.closeComplete)
        case .noData: writeEmptyBackendMessage(BackendType.noData)
        case .emptyQueryResponse: writeEmptyBackendMessage(BackendType.emptyQueryResponse)
        case .copyInResponse, .copyOutResponse, .copyBothResponse: break
        }
    }
}
