import NIOCore

/// The backend messages the proxy inspects. Anything else stays an opaque `Frame`.
public enum BackendMessage: Sendable, Equatable {
    case authentication(AuthenticationRequest)
    case parameterStatus(name: String, value: String)
    case backendKeyData(CancelRequest)
    case readyForQuery(TransactionStatus)
    case errorResponse(ErrorFields)
    case noticeResponse(ErrorFields)
    case commandComplete(tag: String)
    case negotiateProtocolVersion(newestMinor: Int32, unrecognized: [String])
    case parseComplete
    case bindComplete
    case closeComplete
    case noData
    case emptyQueryResponse
    case copyInResponse
    case copyOutResponse
    case copyBothResponse

    public static func decode(_ frame: Frame) throws -> BackendMessage? {
        var body = frame.body
        let type = frame.type
        func string() throws -> String {
            guard let s = body.readNullTerminatedString() else {
                throw WireError.malformed(type: type, reason: "unterminated string")
            }
            return s
        }
        switch type {
        case BackendType.authentication:
            return .authentication(try AuthenticationRequest.decode(&body))
        case BackendType.parameterStatus:
            let name = try string()
            return .parameterStatus(name: name, value: try string())
        case BackendType.backendKeyData:
            guard let pid = body.readInteger(as: Int32.self), let key = body.readInteger(as: Int32.self) else {
                throw WireError.malformed(type: type, reason: "short BackendKeyData")
            }
            return .backendKeyData(CancelRequest(processID: pid, secretKey: key))
        case BackendType.readyForQuery:
            guard let byte = body.readInteger(as: UInt8.self), let status = TransactionStatus(rawValue: byte) else {
                throw WireError.malformed(type: type, reason: "bad transaction status")
            }
            return .readyForQuery(status)
        case BackendType.errorResponse:
            return .errorResponse(try ErrorFields.decode(&body, type: type))
        case BackendType.noticeResponse:
            return .noticeResponse(try ErrorFields.decode(&body, type: type))
        case BackendType.commandComplete:
            return .commandComplete(tag: try string())
        case BackendType.negotiateProtocolVersion:
            guard let minor = body.readInteger(as: Int32.self), let count = body.readInteger(as: Int32.self),
                  count >= 0, count <= 10_000
            else { throw WireError.malformed(type: type, reason: "bad NegotiateProtocolVersion") }
            var names: [String] = []
            for _ in 0..<count { names.append(try string()) }
            return .negotiateProtocolVersion(newestMinor: minor, unrecognized: names)
        case BackendType.parseComplete: return .parseComplete
        case BackendType.bindComplete: return .bindComplete
        case BackendType.closeComplete: return .closeComplete
        case BackendType.noData: return .noData
        case BackendType.emptyQueryResponse: return .emptyQueryResponse
        case BackendType.copyInResponse: return .copyInResponse
        case BackendType.copyOutResponse: return .copyOutResponse
        case BackendType.copyBothResponse: return .copyBothResponse
        default: return nil
        }
    }
}

/// Authentication request codes sent by a server ('R' messages).
public enum AuthenticationRequest: Sendable, Equatable {
    case ok
    case cleartextPassword
    case md5Password(salt: [UInt8])
    case sasl(mechanisms: [String])
    case saslContinue(data: [UInt8])
    case saslFinal(data: [UInt8])
    /// Kerberos, GSS, SSPI: recognized but not supported by the proxy.
    case unsupported(code: Int32)

    static func decode(_ body: inout ByteBuffer) throws -> AuthenticationRequest {
        let type = BackendType.authentication
        guard let code = body.readInteger(as: Int32.self) else {
            throw WireError.malformed(type: type, reason: "missing authentication code")
        }
        switch code {
        case 0: return .ok
        case 3: return .cleartextPassword
        case 5:
            guard let salt = body.readBytes(length: 4) else {
                throw WireError.malformed(type: type, reason: "short md5 salt")
            }
            return .md5Password(salt: salt)
        case 10:
            // The list ends with an empty name; a list cut short is malformed, not shorter.
            var mechanisms: [String] = []
            while true {
                guard let name = body.readNullTerminatedString() else {
                    throw WireError.malformed(type: type, reason: "unterminated SASL mechanism list")
                }
                if name.isEmpty { break }
                mechanisms.append(name)
            }
            return .sasl(mechanisms: mechanisms)
        case 11: return .saslContinue(data: body.readBytes(length: body.readableBytes) ?? [])
        case 12: return .saslFinal(data: body.readBytes(length: body.readableBytes) ?? [])
        default: return .unsupported(code: code)
        }
    }
}

/// Fields of an ErrorResponse or NoticeResponse, keyed by their one-letter codes.
public struct ErrorFields: Sendable, Equatable {
    public var fields: [(code: UInt8, value: String)]

    public init(fields: [(code: UInt8, value: String)]) { self.fields = fields }

    /// The usual trio for errors the proxy raises itself.
    public init(severity: String = "ERROR", sqlState: String, message: String, detail: String? = nil, hint: String? = nil) {
        var fields: [(UInt8, String)] = [
            (UInt8(ascii: "S"), severity), (UInt8(ascii: "V"), severity),
            (UInt8(ascii: "C"), sqlState), (UInt8(ascii: "M"), message),
        ]
        if let detail { fields.append((UInt8(ascii: "D"), detail)) }
        if let hint { fields.append((UInt8(ascii: "H"), hint)) }
        self.fields = fields
    }

    public subscript(code: Character) -> String? {
        guard let ascii = code.asciiValue else { return nil }
        return fields.first(where: { $0.code == ascii })?.value
    }

    /// SQLSTATE, or nil when a (broken or old) server sent none.
    public var sqlState: String? { self["C"] }
    public var message: String { self["M"] ?? "" }
    public var severity: String { self["V"] ?? self["S"] ?? "ERROR" }

    static func decode(_ body: inout ByteBuffer, type: UInt8) throws -> ErrorFields {
        var fields: [(UInt8, String)] = []
        while true {
            // The field list ends with a zero byte; libpq also refuses a list cut short.
            guard let code = body.readInteger(as: UInt8.self) else {
                throw WireError.malformed(type: type, reason: "unterminated error field list")
            }
            if code == 0 { break }
            guard let value = body.readNullTerminatedString() else {
                throw WireError.malformed(type: type, reason: "unterminated error field")
            }
            fields.append((code, value))
        }
        return ErrorFields(fields: fields)
    }

    public static func == (lhs: ErrorFields, rhs: ErrorFields) -> Bool {
        lhs.fields.map(\.code) == rhs.fields.map(\.code) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
    }
}

extension ByteBuffer {
    public mutating func writeAuthenticationRequest(_ request: AuthenticationRequest) {
        writeMessage(BackendType.authentication) {
            switch request {
            case .ok: $0.writeInteger(Int32(0))
            case .cleartextPassword: $0.writeInteger(Int32(3))
            case .md5Password(let salt):
                $0.writeInteger(Int32(5))
                $0.writeBytes(salt)
            case .sasl(let mechanisms):
                $0.writeInteger(Int32(10))
                for m in mechanisms { $0.writeNullTerminatedString(m) }
                $0.writeInteger(UInt8(0))
            case .saslContinue(let data):
                $0.writeInteger(Int32(11))
                $0.writeBytes(data)
            case .saslFinal(let data):
                $0.writeInteger(Int32(12))
                $0.writeBytes(data)
            case .unsupported(let code): $0.writeInteger(code)
            }
        }
    }

    public mutating func writeParameterStatus(name: String, value: String) {
        writeMessage(BackendType.parameterStatus) {
            $0.writeNullTerminatedString(name)
            $0.writeNullTerminatedString(value)
        }
    }

    public mutating func writeBackendKeyData(_ key: CancelRequest) {
        writeMessage(BackendType.backendKeyData) {
            $0.writeInteger(key.processID)
            $0.writeInteger(key.secretKey)
        }
    }

    public mutating func writeReadyForQuery(_ status: TransactionStatus) {
        writeMessage(BackendType.readyForQuery) { $0.writeInteger(status.rawValue) }
    }

    public mutating func writeErrorResponse(_ fields: ErrorFields) {
        writeFields(BackendType.errorResponse, fields)
    }

    public mutating func writeNoticeResponse(_ fields: ErrorFields) {
        writeFields(BackendType.noticeResponse, fields)
    }

    private mutating func writeFields(_ type: UInt8, _ fields: ErrorFields) {
        writeMessage(type) {
            for (code, value) in fields.fields {
                $0.writeInteger(code)
                $0.writeNullTerminatedString(value)
            }
            $0.writeInteger(UInt8(0))
        }
    }

    public mutating func writeCommandComplete(_ tag: String) {
        writeMessage(BackendType.commandComplete) { $0.writeNullTerminatedString(tag) }
    }

    public mutating func writeNegotiateProtocolVersion(newestMinor: Int32, unrecognized: [String]) {
        writeMessage(BackendType.negotiateProtocolVersion) {
            $0.writeInteger(newestMinor)
            $0.writeInteger(Int32(unrecognized.count))
            for name in unrecognized { $0.writeNullTerminatedString(name) }
        }
    }

    /// An empty-bodied backend message such as ParseComplete, BindComplete, CloseComplete, NoData.
    public mutating func writeEmptyBackendMessage(_ type: UInt8) {
        writeMessage(type) { _ in }
    }

    /// RowDescription for text-format columns: (name, type OID).
    public mutating func writeRowDescription(_ columns: [(name: String, typeOID: UInt32)]) {
        writeMessage(BackendType.rowDescription) {
            $0.writeInteger(Int16(columns.count))
            for column in columns {
                $0.writeNullTerminatedString(column.name)
                $0.writeInteger(Int32(0)) // table OID
                $0.writeInteger(Int16(0)) // column attribute number
                $0.writeInteger(column.typeOID)
                $0.writeInteger(Self.typeLength(column.typeOID))
                $0.writeInteger(Int32(-1)) // type modifier
                $0.writeInteger(Int16(0)) // text format
            }
        }
    }

    /// DataRow of text values; nil is SQL NULL.
    public mutating func writeDataRow(_ values: [String?]) {
        writeMessage(BackendType.dataRow) {
            $0.writeInteger(Int16(values.count))
            for value in values {
                if let value {
                    let lengthIndex = $0.writerIndex
                    $0.writeInteger(Int32(0))
                    let written = $0.writeString(value)
                    $0.setInteger(Int32(written), at: lengthIndex)
                } else {
                    $0.writeInteger(Int32(-1))
                }
            }
        }
    }

    static func typeLength(_ oid: UInt32) -> Int16 {
        switch oid {
        case 16: return 1 // bool
        case 20: return 8 // int8
        case 21: return 2 // int2
        case 23: return 4 // int4
        case 26: return 4 // oid
        case 700: return 4 // float4
        case 701: return 8 // float8
        case 1184: return 8 // timestamptz
        default: return -1
        }
    }
}
