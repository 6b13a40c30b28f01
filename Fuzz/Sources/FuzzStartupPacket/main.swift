import FuzzSupport
import NIOCore
import PGWire

/// What a client sends before its first typed message: StartupMessage, SSLRequest,
/// GSSENCRequest, CancelRequest (a client may send several: SSLRequest, then StartupMessage).
/// Properties: only `WireError`s are thrown; a packet encodes and reads back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStartupPacket(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    requireOnlyWireErrors {
        while let packet = try StartupPacketReader.next(from: &input, maxLength: 10_000) {
            var encoded = ByteBuffer()
            switch packet {
            case .startup(let message): encoded.writeStartupMessage(message)
            case .sslRequest: encoded.writeSSLRequest()
            case .gssEncRequest:
                encoded.writeInteger(Int32(8))
                encoded.writeInteger(StartupPacketCodes.gssEncRequest)
            case .cancel(let request): encoded.writeCancelRequest(request)
            }
            // Names and values with invalid UTF-8 come back repaired, hence longer: no limit here.
            let again = try StartupPacketReader.next(from: &encoded, maxLength: Int(Int32.max))
            fuzzRequire(again == packet && encoded.readableBytes == 0,
                        "\(packet) round-trips as \(String(describing: again))")
        }
    }
    return 0
}

runLibFuzzer()
