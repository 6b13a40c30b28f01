import NIOCore

/// One regular (typed) protocol message as it arrived: the type byte, and the bytes of the whole
/// message (type and length word included) so it can be forwarded without re-encoding.
public struct Frame: Sendable {
    public var type: UInt8
    /// The complete message: type byte, Int32 length, body.
    public var bytes: ByteBuffer

    @inlinable
    public init(type: UInt8, bytes: ByteBuffer) {
        self.type = type
        self.bytes = bytes
    }

    /// The body after the 5-byte header.
    @inlinable
    public var body: ByteBuffer {
        var copy = bytes
        copy.moveReaderIndex(forwardBy: 5)
        return copy
    }
}

public enum FrameReader {
    /// Length of the header (type byte + Int32 length) of a regular message.
    public static let headerLength = 5

    /// Reads the next complete regular message from `buffer`, or returns nil when more bytes are
    /// needed. The length is checked against `maxLength` before anything is allocated, so a peer
    /// announcing a huge message is refused as soon as its header arrives.
    @inlinable
    public static func next(from buffer: inout ByteBuffer, maxLength: Int) throws -> Frame? {
        guard let total = try frameLength(in: buffer, at: buffer.readerIndex, maxLength: maxLength) else {
            return nil
        }
        let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!
        let bytes = buffer.readSlice(length: total)!
        return Frame(type: type, bytes: bytes)
    }

    /// The full length (header included) of the message starting at `index`, or nil if the buffer
    /// does not yet hold all of it. Throws on a length that is invalid or over the limit.
    @inlinable
    public static func frameLength(in buffer: ByteBuffer, at index: Int, maxLength: Int) throws -> Int? {
        guard buffer.writerIndex - index >= headerLength,
              let type = buffer.getInteger(at: index, as: UInt8.self),
              let length32 = buffer.getInteger(at: index + 1, as: Int32.self)
        else { return nil }
        let length = Int(length32)
        if length < 4 { throw WireError.invalidLength(type: type, length: length) }
        if length > maxLength { throw WireError.messageTooLarge(type: type, length: length, limit: maxLength) }
        let total = length + 1
        guard buffer.writerIndex - index >= total else { return nil }
        return total
    }
}
