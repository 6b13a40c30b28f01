import FuzzSupport
import NIOCore
import PGWire

/// A server's byte stream: cut into frames, each decoded. Properties: only `WireError`s are
/// thrown; a decoded message encodes and decodes back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBackendMessage(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    var input = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    requireOnlyWireErrors(sqlStates: ["08P01"]) {
        while let frame = try FrameReader.next(from: &input, maxLength: 1 << 16) {
            guard let message = try BackendMessage.decode(frame) else { continue }
            var encoded = ByteBuffer()
            encode(message, type: frame.type, into: &encoded)
            let again = try FrameReader.next(from: &encoded, maxLength: Int.max)
            fuzzRequire(again != nil && encoded.readableBytes == 0, "re-encoded \(message) is not one frame")
            let decoded = try BackendMessage.decode(again!)
            fuzzRequire(decoded == message, "\(message) round-trips as \(String(describing: decoded))")
        }
    }
    return 0
}

/// The proxy's own writers for the messages it writes; the others have no body it looks at.
private func encode(_ message: BackendMessage, type: UInt8, into buffer: inout ByteBuffer) {
    switch message {
    case .authentication(let request): buffer.writeAuthenticationRequest(request)
    case .parameterStatus(let name, let value): buffer.writeParameterStatus(name: name, value: value)
    case .backendKeyData(let key): buffer.writeBackendKeyData(key)
    case .readyForQuery(let status): buffer.writeReadyForQuery(status)
    case .errorResponse(let fields): buffer.writeErrorResponse(fields)
    case .noticeResponse(let fields): buffer.writeNoticeResponse(fields)
    case .commandComplete(let tag): buffer.writeCommandComplete(tag)
    case .negotiateProtocolVersion(let minor, let names):
        buffer.writeNegotiateProtocolVersion(newestMinor: minor, unrecognized: names)
    case .parseComplete, .bindComplete, .closeComplete, .noData, .emptyQueryResponse,
         .copyInResponse, .copyOutResponse, .copyBothResponse:
        buffer.writeEmptyBackendMessage(type)
    }
}

runLibFuzzer()
