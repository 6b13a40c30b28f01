#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Reads what the relay needs of an extended-protocol message without decoding it: whether it
/// refers to the unnamed statement (most drivers use it, and there the relay has nothing to
/// rewrite or look up), a Bind's statement name, a Parse's name and text. The full decode
/// (strings, parameter arrays) would be wasted on those.
public enum StatementNamePeek {
    /// What a message refers to.
    public enum Target: Equatable, Sendable {
        /// The unnamed statement (Parse, Bind, or Describe/Close of kind 'S' with an empty name).
        case unnamedStatement
        /// A portal, named or not (Describe/Close of kind 'P' with a terminated name): no
        /// statement name in it either. pgbench and most drivers send Describe of the unnamed
        /// portal with every extended-protocol query.
        case portal
        /// Something else: a named statement, a portal, another message type, or a message the
        /// peek cannot read (too short, no terminator); decode it to learn more.
        case other
    }

    /// The target of a complete frame (type byte, length, body).
    public static func target(of frame: Frame) -> Target {
        frame.bytes.withUnsafeReadableBytes { target(type: frame.type, frameBytes: $0) }
    }

    /// The target of a complete frame given as raw bytes.
    public static func target(type: UInt8, frameBytes bytes: UnsafeRawBufferPointer) -> Target {
        let body = 5
        guard bytes.count > body else { return .other }
        switch type {
        case FrontendType.parse:
            // Parse: statement name, query, UInt16 count, that many UInt32 type OIDs; checked as
            // far as `FrontendMessage.decode` checks, so a malformed message is still refused.
            guard bytes[body] == 0, let queryEnd = terminator(in: bytes, from: body + 1),
                  queryEnd + 3 <= bytes.count
            else { return .other }
            let count = Int(bytes[queryEnd + 1]) << 8 | Int(bytes[queryEnd + 2])
            return bytes.count - (queryEnd + 3) >= count * 4 ? .unnamedStatement : .other
        case FrontendType.bind:
            // Bind: portal name, then statement name (the rest is passed on as it is).
            guard let portalEnd = terminator(in: bytes, from: body), portalEnd + 1 < bytes.count else { return .other }
            return bytes[portalEnd + 1] == 0 ? .unnamedStatement : .other
        case FrontendType.describe, FrontendType.close:
            // Kind byte, then the name; the whole message is exactly that for an empty name.
            if bytes[body] == UInt8(ascii: "P") {
                return terminator(in: bytes, from: body + 1) != nil ? .portal : .other
            }
            return bytes.count == body + 2 && bytes[body] == UInt8(ascii: "S") && bytes[body + 1] == 0
                ? .unnamedStatement : .other
        default:
            return .other
        }
    }

    /// The statement name a Bind frame names ("" for the unnamed statement), read without
    /// decoding the parameters; nil when the frame is not a Bind or its names are not terminated.
    /// Only for labels and lookups: whether the whole message is well formed is for
    /// `FrontendMessage.decode` to say.
    public static func boundStatementName(of frame: Frame) -> String? {
        guard frame.type == FrontendType.bind else { return nil }
        return frame.bytes.withUnsafeReadableBytes { bytes -> String? in
            guard let name = boundStatement(frameBytes: bytes) else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[name]), as: UTF8.self)
        }
    }

    /// Where a Bind frame's statement name lies in its bytes (without the terminator; the portal
    /// name and its terminator come just before it, the parameters just after). Nil when the two
    /// names are not terminated: the same frames `FrontendMessage.decode` refuses, which reads a
    /// Bind no further than its names either. Lets the relay rename the statement by copying the
    /// bytes around the name instead of decoding and encoding the message.
    public static func boundStatement(frameBytes bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        let body = 5
        guard bytes.count > body, let portalEnd = terminator(in: bytes, from: body), portalEnd + 1 < bytes.count,
              let nameEnd = terminator(in: bytes, from: portalEnd + 1)
        else { return nil }
        return portalEnd + 1 ..< nameEnd
    }

    /// The statement name and the query text of a Parse frame given as raw bytes, as offsets
    /// into them (each without its terminator); nil when the frame is not a Parse or the two are
    /// not terminated. For labels and lookups that need only the text: whether the whole message
    /// is well formed is for `FrontendMessage.decode` to say.
    public static func parseTexts(type: UInt8, frameBytes bytes: UnsafeRawBufferPointer) -> (name: Range<Int>, query: Range<Int>)? {
        let body = 5
        guard type == FrontendType.parse, bytes.count > body, let nameEnd = terminator(in: bytes, from: body),
              let queryEnd = terminator(in: bytes, from: nameEnd + 1)
        else { return nil }
        return (body ..< nameEnd, nameEnd + 1 ..< queryEnd)
    }

    private static func terminator(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress,
              let found = memchr(base + start, 0, bytes.count - start)
        else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }
}
