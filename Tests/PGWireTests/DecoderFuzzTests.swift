import NIOCore
import PGWire
import XCTest

/// Random and truncated input through every decoder: each either decodes, asks for more bytes, or
/// throws a `WireError`; nothing traps. Seeded, so a failure reproduces.
final class DecoderFuzzTests: XCTestCase {
    /// xorshift64*: small and deterministic (the state must not be zero).
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
    }

    static let typeBytes: [UInt8] = Array("BCdcfDEHFPpQSXRKZ123nIGHWvNtTsAV".utf8) + [0, 0xFF]

    /// Bytes biased towards what parsers trip on: zeros, small counts, 0xFF and printable text.
    func randomBody(_ rng: inout SeededGenerator) -> [UInt8] {
        let count = Int.random(in: 0...24, using: &rng)
        return (0..<count).map { _ in
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return 0
            case 1: return UInt8.random(in: 0...3, using: &rng)
            case 2: return 0xFF
            default: return UInt8.random(in: 0x20...0x7E, using: &rng)
            }
        }
    }

    func assertOnlyWireErrors(_ body: () throws -> Void, _ label: @autoclosure () -> String) {
        do {
            try body()
        } catch let error as WireError {
            XCTAssertTrue(["08P01", "0A000"].contains(error.sqlState), label())
        } catch {
            XCTFail("\(label()): unexpected \(error)")
        }
    }

    func testRandomBodiesThroughTypedDecoders() {
        var rng = SeededGenerator(state: 0x5EED)
        for iteration in 0..<20_000 {
            let type = Self.typeBytes.randomElement(using: &rng) ?? 0
            let bytes = [type] + Wire.int32(0) + randomBody(&rng)
            var message = Wire.buffer(bytes)
            message.setInteger(Int32(bytes.count - 1), at: 1)
            let frame = Frame(type: type, bytes: message)
            assertOnlyWireErrors({ _ = try FrontendMessage.decode(frame) }, "frontend #\(iteration) \(bytes)")
            assertOnlyWireErrors({ _ = try BackendMessage.decode(frame) }, "backend #\(iteration) \(bytes)")
        }
    }

    func testRandomStreamsThroughReaders() {
        var rng = SeededGenerator(state: 0xF00D)
        for iteration in 0..<5_000 {
            let bytes = randomBody(&rng) + randomBody(&rng)
            assertOnlyWireErrors({
                var input = Wire.buffer(bytes)
                while try FrameReader.next(from: &input, maxLength: 64) != nil {}
            }, "frames #\(iteration) \(bytes)")
            assertOnlyWireErrors({
                var input = Wire.buffer(bytes)
                _ = try StartupPacketReader.next(from: &input, maxLength: 64)
            }, "startup #\(iteration) \(bytes)")
            // A plausible length word in front makes the reader look at the random body too.
            assertOnlyWireErrors({
                var input = Wire.buffer(Wire.int32(Int32(bytes.count + 8)) + [0, 3, 0, 0] + bytes)
                _ = try StartupPacketReader.next(from: &input, maxLength: 64)
            }, "startup body #\(iteration) \(bytes)")
        }
    }

    /// Every valid fixture cut at every byte of its body (length word adjusted) decodes or throws.
    func testEveryTruncationOfValidFixtures() {
        let frontend = FrontendMessageTests.roundTrips.map(\.1)
        let backend = BackendMessageTests.roundTrips.map(\.1)
        for (bytes, isFrontend) in frontend.map({ ($0, true) }) + backend.map({ ($0, false) }) {
            for cut in 5...bytes.count {
                var message = Wire.buffer(Array(bytes[..<cut]))
                message.setInteger(Int32(cut - 1), at: 1)
                let frame = Frame(type: bytes[0], bytes: message)
                if isFrontend {
                    assertOnlyWireErrors({ _ = try FrontendMessage.decode(frame) }, "\(bytes) cut at \(cut)")
                } else {
                    assertOnlyWireErrors({ _ = try BackendMessage.decode(frame) }, "\(bytes) cut at \(cut)")
                }
            }
        }
    }
}
