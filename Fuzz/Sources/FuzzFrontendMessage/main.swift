import FuzzSupport
import NIOCore
import PGWire

/// A client's byte stream: cut into frames, each decoded. Properties: the reader and the decoder
/// only ever throw `WireError`; a decoded message encodes and decodes back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrontendMessage(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    requireOnlyWireErrors {
        while let frame = try FrameReader.next(from: &input, maxLength: 1 << 16) {
            guard let message = try FrontendMessage.decode(frame) else { continue }
            var encoded = ByteBuffer()
            encoded.writeFrontendMessage(message)
            let again = try FrameReader.next(from: &encoded, maxLength: Int.max)
            fuzzRequire(again != nil && encoded.readableBytes == 0, "re-encoded \(message) is not one frame")
            let decoded = try FrontendMessage.decode(again!)
            fuzzRequire(decoded == message, "\(message) round-trips as \(String(describing: decoded))")
        }
    }
    return 0
}

runLibFuzzer()
