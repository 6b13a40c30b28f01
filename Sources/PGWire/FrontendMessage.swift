import NIOCore

/// The frontend messages the proxy inspects. Anything else stays an opaque `Frame`.
public enum FrontendMessage: Sendable, Equatable {
    case query(String)
    case parse(Parse)
    case bind(Bind)
    case describe(DescribeTarget)
    case execute(portal: String, maxRows: Int32)
    case close(DescribeTarget)
    case sync
    case flush
    case terminate
    case copyData
    case copyDone
    case copyFail(String)
    case functionCall
    /// PasswordMessage / SASLInitialResponse / SASLResponse: the body is interpreted by the
    /// authentication step that expects it.
    case password(ByteBuffer)

    public struct Parse: Sendable, Equatable {
        public var name: String
        public var query: String
        public var parameterTypes: [UInt32]
        public init(name: String, query: String, parameterTypes: [UInt32]) {
            self.name = name
            self.query = query
            self.parameterTypes = parameterTypes
        }
    }

    public struct Bind: Sendable, Equatable {
        public var portal: String
        public var statement: String
        /// Everything after the statement name (formats, parameters, result formats), untouched.
        public var remainder: ByteBuffer
        public init(portal: String, statement: String, remainder: ByteBuffer) {
            self.portal = portal
            self.statement = statement
            self.remainder = remainder
        }
    }

    /// 'S' statement or 'P' portal, plus its name (Describe and Close share this shape).
    public struct DescribeTarget: Sendable, Equatable {
        public enum Kind: UInt8, Sendable { case statement = 83, portal = 80 }
        public var kind: Kind
        public var name: String
        public init(kind: Kind, name: String) {
            self.kind = kind
            self.name = name
        }
    }

    /// Decodes a frontend frame. Returns nil for types the proxy forwards without looking.
    public static func decode(_ frame: Frame) throws -> FrontendMessage? {
        var body = frame.body
        let type = frame.type
        func string() throws -> String {
            guard let s = body.readNullTerminatedString() else {
                throw WireError.malformed(type: type, reason: "unterminated string")
            }
            return s
        }
        switch type {
        case FrontendType.query:
            return .query(try string())
        case FrontendType.parse:
            let name = try string()
            let query = try string()
            // PostgreSQL reads the count as unsigned: up to 65535 parameters.
            guard let count = body.readInteger(as: UInt16.self),
                  body.readableBytes >= Int(count) * 4
            else { throw WireError.malformed(type: type, reason: "bad parameter type count") }
            var types: [UInt32] = []
            types.reserveCapacity(Int(count))
            for _ in 0..<count { types.append(body.readInteger(as: UInt32.self)!) }
            return .parse(Parse(name: name, query: query, parameterTypes: types))
        case FrontendType.bind:
            let portal = try string()
            let statement = try string()
            return .bind(Bind(portal: portal, statement: statement, remainder: body))
        case FrontendType.describe, FrontendType.close:
            guard let kindByte = body.readInteger(as: UInt8.self),
                  let kind = DescribeTarget.Kind(rawValue: kindByte)
            else { throw WireError.malformed(type: type, reason: "invalid target kind") }
            let target = DescribeTarget(kind: kind, name: try string())
            return type == FrontendType.describe ? .describe(target) : .close(target)
        case FrontendType.execute:
            let portal = try string()
            guard let rows = body.readInteger(as: Int32.self) else {
                throw WireError.malformed(type: type, reason: "missing row limit")
            }
            return .execute(portal: portal, maxRows: rows)
        case FrontendType.sync: return .sync
        case FrontendType.flush: return .flush
        case FrontendType.terminate: return .terminate
        case FrontendType.copyData: return .copyData
        case FrontendType.copyDone: return .copyDone
        case FrontendType.copyFail: return .copyFail(try string())
        case FrontendType.functionCall: return .functionCall
        case FrontendType.password: return .password(body)
        default: return nil
        }
    }
}

extension ByteBuffer {
    /// Writes a regular message: type, a length placeholder, the body from `body`, then the length.
    @inlinable
    public mutating func writeMessage(_ type: UInt8, _ body: (inout ByteBuffer) -> Void) {
        writeInteger(type)
        let lengthIndex = writerIndex
        writeInteger(Int32(0))
        body(&self)
        setInteger(Int32(writerIndex - lengthIndex), at: lengthIndex)
    }

    public mutating func writeFrontendMessage(_ message: FrontendMessage) {
        switch message {
        case .query(let sql):
            writeMessage(FrontendType.query) { $0.writeNullTerminatedString(sql) }
        case .parse(let parse):
            writeMessage(FrontendType.parse) {
                $0.writeNullTerminatedString(parse.name)
                $0.writeNullTerminatedString(parse.query)
                $0.writeInteger(UInt16(parse.parameterTypes.count))
                for oid in parse.parameterTypes { $0.writeInteger(oid) }
            }
        case .bind(let bind):
            writeMessage(FrontendType.bind) {
                $0.writeNullTerminatedString(bind.portal)
                $0.writeNullTerminatedString(bind.statement)
                var rest = bind.remainder
                $0.writeBuffer(&rest)
            }
        case .describe(let target), .close(let target):
            let type: UInt8
            if case .describe = message { type = FrontendType.describe } else { type = FrontendType.close }
            writeMessage(type) {
                $0.writeInteger(target.kind.rawValue)
                $0.writeNullTerminatedString(target.name)
            }
        case .execute(let portal, let maxRows):
            writeMessage(FrontendType.execute) {
                $0.writeNullTerminatedString(portal)
                $0.writeInteger(maxRows)
            }
        case .sync: writeMessage(FrontendType.sync) { _ in }
        case .flush: writeMessage(FrontendType.flush) { _ in }
        case .terminate: writeMessage(FrontendType.terminate) { _ in }
        case .copyData: writeMessage(FrontendType.copyData) { _ in }
        case .copyDone: writeMessage(FrontendType.copyDone) { _ in }
        case .copyFail(let reason): writeMessage(FrontendType.copyFail) { $0.writeNullTerminatedString(reason) }
        case .functionCall: writeMessage(FrontendType.functionCall) { _ in }
        case .password(let body):
            writeMessage(FrontendType.password) {
                var copy = body
                $0.writeBuffer(&copy)
            }
        }
    }

    /// PasswordMessage with a cleartext or md5 password.
    public mutating func writePasswordMessage(_ password: String) {
        writeMessage(FrontendType.password) { $0.writeNullTerminatedString(password) }
    }

    /// SASLInitialResponse: mechanism name and the client-first-message.
    public mutating func writeSASLInitialResponse(mechanism: String, data: [UInt8]) {
        writeMessage(FrontendType.password) {
            $0.writeNullTerminatedString(mechanism)
            $0.writeInteger(Int32(data.count))
            $0.writeBytes(data)
        }
    }

    /// SASLResponse: the client-final-message.
    public mutating func writeSASLResponse(data: [UInt8]) {
        writeMessage(FrontendType.password) { $0.writeBytes(data) }
    }
}
