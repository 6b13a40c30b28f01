import PGWire
import XCTest

final class ErrorSQLStateTests: XCTestCase {
    private func frame(_ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count + 4)
        return [0x45, UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
    }

    func testCodeIsReadWithoutTheOtherFields() {
        let cases: [([UInt8], String?, String)] = [
            (frame(BackendMessageTests.errorBody), "42P01", "PostgreSQL's order: severity, code, message"),
            (frame(Wire.text("Mduplicate key value (id)=(SSN-123)\0C23505\0\0")), "23505", "code after a message"),
            (frame(Wire.text("SERROR\0Mno code\0\0")), nil, "no code"),
            (frame(Wire.text("\0")), nil, "no fields"),
            (frame(Wire.text("SERROR\0C2350")), nil, "cut inside the code"),
            (frame(Wire.text("SERROR")), nil, "cut inside a field"),
            (Array(frame([]).prefix(5)), nil, "header only"),
            ([], nil, "nothing"),
        ]
        for (bytes, expected, label) in cases {
            XCTAssertEqual(bytes.withUnsafeBytes { ErrorFields.sqlState(inFrame: $0) }, expected, label)
        }
    }
}
