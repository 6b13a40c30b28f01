import NIOCore
import PGWire
import XCTest

/// The peek must say "unnamed statement" exactly when the full decoder reads a well-formed
/// message that refers to the unnamed statement, and "portal" only for a Describe or Close the
/// decoder reads as a portal's; anything else (named, malformed) is left to the decoder.
final class StatementNamePeekTests: XCTestCase {
    static let cases: [(name: String, bytes: [UInt8], expected: StatementNamePeek.Target)] = [
        ("Parse unnamed", [0x50, 0, 0, 0, 16] + Wire.text("\0SELECT 1\0") + [0, 0], .unnamedStatement),
        ("Parse unnamed with one type", [0x50, 0, 0, 0, 21] + Wire.text("\0SELECT $1\0") + [0, 1, 0, 0, 0, 23], .unnamedStatement),
        ("Parse named", [0x50, 0, 0, 0, 18] + Wire.text("s1\0SELECT 1\0") + [0, 0], .other),
        ("Parse unterminated query", [0x50, 0, 0, 0, 13] + Wire.text("\0SELECT 1"), .other),
        ("Parse missing type count", [0x50, 0, 0, 0, 14] + Wire.text("\0SELECT 1\0"), .other),
        ("Parse half a type count", [0x50, 0, 0, 0, 15] + Wire.text("\0SELECT 1\0") + [0], .other),
        ("Parse fewer types than counted", [0x50, 0, 0, 0, 21] + Wire.text("\0SELECT $1\0") + [0, 2, 0, 0, 0, 23], .other),
        ("Parse empty body", [0x50, 0, 0, 0, 4], .other),
        ("Bind unnamed portal and statement", [0x42, 0, 0, 0, 12] + [0, 0] + [0, 0, 0, 0, 0, 0], .unnamedStatement),
        ("Bind named portal, unnamed statement", [0x42, 0, 0, 0, 14] + Wire.text("c1\0\0") + [0, 0, 0, 0, 0, 0], .unnamedStatement),
        ("Bind named statement", [0x42, 0, 0, 0, 14] + Wire.text("\0s1\0") + [0, 0, 0, 0, 0, 0], .other),
        ("Bind unterminated portal", [0x42, 0, 0, 0, 6] + Wire.text("c1"), .other),
        ("Bind portal but no statement", [0x42, 0, 0, 0, 5, 0], .other),
        ("Describe unnamed statement", [0x44, 0, 0, 0, 6, 0x53, 0], .unnamedStatement),
        ("Describe unnamed portal", [0x44, 0, 0, 0, 6, 0x50, 0], .portal),
        ("Describe named portal", [0x44, 0, 0, 0, 8, 0x50] + Wire.text("c1\0"), .portal),
        ("Describe unterminated portal", [0x44, 0, 0, 0, 7, 0x50] + Wire.text("c1"), .other),
        ("Describe portal without name", [0x44, 0, 0, 0, 5, 0x50], .other),
        ("Describe of another kind", [0x44, 0, 0, 0, 6, 0x58, 0], .other),
        ("Close named portal", [0x43, 0, 0, 0, 8, 0x50] + Wire.text("c1\0"), .portal),
        ("Describe named statement", [0x44, 0, 0, 0, 8, 0x53] + Wire.text("s1\0"), .other),
        ("Describe unnamed statement with trailing byte", [0x44, 0, 0, 0, 7, 0x53, 0, 0], .other),
        ("Describe without name", [0x44, 0, 0, 0, 5, 0x53], .other),
        ("Close unnamed statement", [0x43, 0, 0, 0, 6, 0x53, 0], .unnamedStatement),
        ("Close named statement", [0x43, 0, 0, 0, 8, 0x53] + Wire.text("s1\0"), .other),
        ("Execute", [0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0], .other),
        ("Sync", [0x53, 0, 0, 0, 4], .other),
        ("Query", [0x51, 0, 0, 0, 5, 0], .other),
    ]

    func testTargets() {
        for test in Self.cases {
            let frame = Frame(type: test.bytes[0], bytes: Wire.buffer(test.bytes))
            XCTAssertEqual(StatementNamePeek.target(of: frame), test.expected, test.name)
        }
    }

    func testAgreesWithTheDecoder() {
        for test in Self.cases {
            let frame = Frame(type: test.bytes[0], bytes: Wire.buffer(test.bytes))
            let decodedUnnamed: Bool
            switch try? FrontendMessage.decode(frame) {
            case .parse(let parse)?: decodedUnnamed = parse.name.isEmpty
            case .bind(let bind)?: decodedUnnamed = bind.statement.isEmpty
            case .describe(let target)?, .close(let target)?: decodedUnnamed = target.kind == .statement && target.name.isEmpty
            default: decodedUnnamed = false
            }
            if StatementNamePeek.target(of: frame) == .portal {
                switch try? FrontendMessage.decode(frame) {
                case .describe(let target)?, .close(let target)?:
                    XCTAssertEqual(target.kind, .portal, test.name)
                default:
                    XCTFail("\(test.name): the peek says portal, the decoder does not read a Describe or Close")
                }
            }
            if StatementNamePeek.target(of: frame) == .unnamedStatement {
                XCTAssertTrue(decodedUnnamed, "\(test.name): the peek says unnamed, the decoder does not")
            } else if test.name != "Describe unnamed statement with trailing byte" {
                XCTAssertFalse(decodedUnnamed, "\(test.name): the decoder says unnamed, the peek does not")
            }
        }
    }

    func testBoundStatementNames() {
        let cases: [(name: String, bytes: [UInt8], expected: String?)] = [
            ("unnamed", [0x42, 0, 0, 0, 12] + [0, 0] + [0, 0, 0, 0, 0, 0], ""),
            ("named statement", [0x42, 0, 0, 0, 14] + Wire.text("\0s1\0") + [0, 0, 0, 0, 0, 0], "s1"),
            ("named portal and statement", [0x42, 0, 0, 0, 16] + Wire.text("c1\0s1\0") + [0, 0, 0, 0, 0, 0], "s1"),
            ("UTF-8 name", [0x42, 0, 0, 0, 10] + [0] + Array("é1".utf8) + [0] + [0, 0], "é1"),
            ("unterminated statement name", [0x42, 0, 0, 0, 7] + Wire.text("\0s1"), nil),
            ("unterminated portal", [0x42, 0, 0, 0, 6] + Wire.text("c1"), nil),
            ("portal but no statement", [0x42, 0, 0, 0, 5, 0], nil),
            ("empty body", [0x42, 0, 0, 0, 4], nil),
            ("not a Bind", [0x44, 0, 0, 0, 8, 0x53] + Wire.text("s1\0"), nil),
        ]
        for test in cases {
            let frame = Frame(type: test.bytes[0], bytes: Wire.buffer(test.bytes))
            XCTAssertEqual(StatementNamePeek.boundStatementName(of: frame), test.expected, test.name)
            // Where the decoder reads the Bind, both name the same statement.
            if case .bind(let bind)? = try? FrontendMessage.decode(frame) {
                XCTAssertEqual(StatementNamePeek.boundStatementName(of: frame), bind.statement, test.name)
            }
        }
    }

    func testParseTexts() {
        let cases: [(name: String, bytes: [UInt8], expected: (String, String)?)] = [
            ("unnamed", [0x50, 0, 0, 0, 16] + Wire.text("\0SELECT 1\0") + [0, 0], ("", "SELECT 1")),
            ("named", [0x50, 0, 0, 0, 18] + Wire.text("s1\0SELECT 1\0") + [0, 0], ("s1", "SELECT 1")),
            ("empty query", [0x50, 0, 0, 0, 8] + Wire.text("\0\0") + [0, 0], ("", "")),
            ("types are not read", [0x50, 0, 0, 0, 15] + Wire.text("\0SELECT 1\0") + [0], ("", "SELECT 1")),
            ("unterminated query", [0x50, 0, 0, 0, 13] + Wire.text("\0SELECT 1"), nil),
            ("unterminated name", [0x50, 0, 0, 0, 6] + Wire.text("s1"), nil),
            ("empty body", [0x50, 0, 0, 0, 4], nil),
            ("not a Parse", [0x51, 0, 0, 0, 13] + Wire.text("SELECT 1\0"), nil),
        ]
        for test in cases {
            let texts = test.bytes.withUnsafeBytes { raw -> (String, String)? in
                guard let ranges = StatementNamePeek.parseTexts(type: test.bytes[0], frameBytes: raw) else { return nil }
                return (String(decoding: raw[ranges.name], as: UTF8.self), String(decoding: raw[ranges.query], as: UTF8.self))
            }
            XCTAssertEqual(texts?.0, test.expected?.0, test.name)
            XCTAssertEqual(texts?.1, test.expected?.1, test.name)
            XCTAssertEqual(texts == nil, test.expected == nil, test.name)
            // Where the decoder reads the Parse, both see the same name and text.
            if case .parse(let parse)? = try? FrontendMessage.decode(Frame(type: test.bytes[0], bytes: Wire.buffer(test.bytes))) {
                XCTAssertEqual(texts?.0, parse.name, test.name)
                XCTAssertEqual(texts?.1, parse.query, test.name)
            }
        }
    }
}
