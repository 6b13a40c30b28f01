import NIOCore

/// The untyped packets a client may send before the first typed message.
public enum StartupPacket: Equatable, Sendable {
    case startup(StartupMessage)
    case sslRequest
    case gssEncRequest
    case cancel(CancelRequest)
}

public struct StartupMessage: Equatable, Sendable {
    public var protocolMajor: Int
    public var protocolMinor: Int
    /// Parameters in the order sent (user, database, options, and any GUC).
    public var parameters: [(name: String, value: String)]

    public init(protocolMajor: Int = 3, protocolMinor: Int = 0, parameters: [(name: String, value: String)]) {
        self.protocolMajor = protocolMajor
        self.protocolMinor = protocolMinor
        self.parameters = parameters
    }

    public func value(of name: String) -> String? {
        parameters.first(where: { $0.name == name })?.value
    }

    public static func == (lhs: StartupMessage, rhs: StartupMessage) -> Bool {
        lhs.protocolMajor == rhs.protocolMajor && lhs.protocolMinor == rhs.protocolMinor
            && lhs.parameters.map(\.name) == rhs.parameters.map(\.name)
            && lhs.parameters.map(\.value) == rhs.parameters.map(\.value)
    }
}

public struct CancelRequest: Equatable, Sendable, Hashable {
    public var processID: Int32
    public var secretKey: Int32
    public init(processID: Int32, secretKey: Int32) {
        self.processID = processID
        self.secretKey = secretKey
    }
}

public enum StartupPacketCodes {
    public static let sslRequest: Int32 = 80_877_103
    public static let gssEncRequest: Int32 = 80_877_104
    public static let cancelRequest: Int32 = 80_877_102
}

public enum StartupPacketReader {
    /// Reads one startup packet, or nil if incomplete. The length is bounded by `maxLength` before
    /// the body is read.
    public static func next(from buffer: inout ByteBuffer, maxLength: Int) throws -> StartupPacket? {
        guard let length32 = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        let length = Int(length32)
        if length < 8 { throw WireError.invalidLength(type: nil, length: length) }
        if length > maxLength { throw WireError.messageTooLarge(type: nil, length: length, limit: maxLength) }
        guard buffer.readableBytes >= length else { return nil }
        var packet = buffer.readSlice(length: length)!
        packet.moveReaderIndex(forwardBy: 4)
        let code = packet.readInteger(as: Int32.self)!
        switch code {
        case StartupPacketCodes.sslRequest:
            guard length == 8 else { throw WireError.malformed(type: nil, reason: "SSLRequest has length \(length)") }
            return .sslRequest
        case StartupPacketCodes.gssEncRequest:
            guard length == 8 else { throw WireError.malformed(type: nil, reason: "GSSENCRequest has length \(length)") }
            return .gssEncRequest
        case StartupPacketCodes.cancelRequest:
            guard length == 16, let pid = packet.readInteger(as: Int32.self),
                  let key = packet.readInteger(as: Int32.self)
            else { throw WireError.malformed(type: nil, reason: "CancelRequest has length \(length)") }
            return .cancel(CancelRequest(processID: pid, secretKey: key))
        default:
            let major = Int(UInt32(bitPattern: code) >> 16)
            let minor = Int(UInt32(bitPattern: code) & 0xFFFF)
            guard major == 3 else { throw WireError.unsupportedProtocol(major: major, minor: minor) }
            var parameters: [(name: String, value: String)] = []
            while true {
                guard let name = packet.readNullTerminatedString() else {
                    throw WireError.malformed(type: nil, reason: "startup packet parameters are not terminated")
                }
                if name.isEmpty { break }
                guard let value = packet.readNullTerminatedString() else {
                    throw WireError.malformed(type: nil, reason: "startup parameter \"\(name)\" has no value")
                }
                parameters.append((name, value))
            }
            // As PostgreSQL: the terminator must be the packet's last byte.
            guard packet.readableBytes == 0 else {
                throw WireError.malformed(type: nil, reason: "invalid startup packet layout: expected terminator as last byte")
            }
            return .startup(StartupMessage(protocolMajor: major, protocolMinor: minor, parameters: parameters))
        }
    }
}

extension ByteBuffer {
    public mutating func writeStartupMessage(_ message: StartupMessage) {
        let start = writerIndex
        writeInteger(Int32(0))
        writeInteger(Int32(message.protocolMajor << 16 | message.protocolMinor))
        for (name, value) in message.parameters {
            writeNullTerminatedString(name)
            writeNullTerminatedString(value)
        }
        writeInteger(UInt8(0))
        setInteger(Int32(writerIndex - start), at: start)
    }

    public mutating func writeSSLRequest() {
        writeInteger(Int32(8))
        writeInteger(StartupPacketCodes.sslRequest)
    }

    public mutating func writeCancelRequest(_ request: CancelRequest) {
        writeInteger(Int32(16))
        writeInteger(StartupPacketCodes.cancelRequest)
        writeInteger(request.processID)
        writeInteger(request.secretKey)
    }
}
