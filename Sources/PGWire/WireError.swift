/// A violation of the v3 protocol by a peer. Every case maps to SQLSTATE 08P01 (protocol_violation)
/// except where noted, so a client can be told clearly what went wrong before it is disconnected.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A message announced a length larger than the configured limit.
    case messageTooLarge(type: UInt8?, length: Int, limit: Int)
    /// A length word below the minimum of 4 (or 8 for startup packets).
    case invalidLength(type: UInt8?, length: Int)
    /// A message's body did not match its format.
    case malformed(type: UInt8?, reason: String)
    /// The startup packet asked for a protocol this proxy does not speak (e.g. v2).
    case unsupportedProtocol(major: Int, minor: Int)

    public var sqlState: String {
        switch self {
        case .unsupportedProtocol: return "0A000"
        default: return "08P01"
        }
    }

    public var description: String {
        switch self {
        case .messageTooLarge(let type, let length, let limit):
            return "message \(Self.describe(type)) too large: \(length) bytes exceeds limit of \(limit)"
        case .invalidLength(let type, let length):
            return "invalid message length \(length) for message \(Self.describe(type))"
        case .malformed(let type, let reason):
            return "malformed message \(Self.describe(type)): \(reason)"
        case .unsupportedProtocol(let major, let minor):
            return "unsupported frontend protocol \(major).\(minor): server supports 3.0 to 3.0"
        }
    }

    static func describe(_ type: UInt8?) -> String {
        guard let type else { return "startup packet" }
        if type >= 0x20 && type < 0x7F { return "'\(Character(Unicode.Scalar(type)))'" }
        return "0x" + String(type, radix: 16)
    }
}
