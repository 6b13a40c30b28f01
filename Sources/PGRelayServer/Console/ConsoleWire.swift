import NIOCore
import PGWire

/// The console's own encoding of result sets, in text or binary format per column, for the
/// simple protocol and for drivers that bind result columns as binary (asyncpg, postgres-nio).
enum ConsoleWire {
    /// Format code of column `index` given a Bind's result format codes: none means all text, one
    /// applies to every column, otherwise one per column.
    static func format(of index: Int, in formats: [Int16]) -> Int16 {
        switch formats.count {
        case 0: return 0
        case 1: return formats[0]
        default: return index < formats.count ? formats[index] : 0
        }
    }

    static func writeRowDescription(_ columns: [ConsoleTable.Column], formats: [Int16], into out: inout ByteBuffer) {
        out.writeMessage(BackendType.rowDescription) { body in
            body.writeInteger(Int16(columns.count))
            for (index, column) in columns.enumerated() {
                body.writeNullTerminatedString(column.name)
                body.writeInteger(Int32(0)) // table OID
                body.writeInteger(Int16(0)) // column attribute number
                body.writeInteger(column.type.rawValue)
                body.writeInteger(typeLength(column.type))
                body.writeInteger(Int32(-1)) // type modifier
                body.writeInteger(format(of: index, in: formats))
            }
        }
    }

    static func writeDataRow(_ values: [String?], columns: [ConsoleTable.Column], formats: [Int16], into out: inout ByteBuffer) {
        out.writeMessage(BackendType.dataRow) { body in
            body.writeInteger(Int16(values.count))
            for (index, value) in values.enumerated() {
                guard let value else {
                    body.writeInteger(Int32(-1))
                    continue
                }
                let lengthIndex = body.writerIndex
                body.writeInteger(Int32(0))
                let type = index < columns.count ? columns[index].type : .text
                let written: Int
                if format(of: index, in: formats) == 1 {
                    written = writeBinary(value, type: type, into: &body)
                } else {
                    written = body.writeString(value)
                }
                body.setInteger(Int32(written), at: lengthIndex)
            }
        }
    }

    static func typeLength(_ type: ConsoleTable.ColumnType) -> Int16 {
        switch type {
        case .int4: return 4
        case .int8, .float8: return 8
        case .text, .numeric, .bytea: return -1
        }
    }

    /// The binary form of a text value; returns the bytes written.
    static func writeBinary(_ value: String, type: ConsoleTable.ColumnType, into out: inout ByteBuffer) -> Int {
        switch type {
        case .int4: return out.writeInteger(Int32(clamping: Int64(value) ?? 0))
        case .int8: return out.writeInteger(Int64(value) ?? 0)
        case .float8: return out.writeInteger((Double(value) ?? 0).bitPattern)
        case .numeric: return writeNumeric(Int64(value) ?? 0, into: &out)
        case .text: return out.writeString(value)
        case .bytea: return out.writeBytes(hexDecoded(value))
        }
    }

    /// PostgreSQL's binary numeric for an integer: base-10000 digits, most significant first.
    static func writeNumeric(_ value: Int64, into out: inout ByteBuffer) -> Int {
        var magnitude = value.magnitude
        var digits: [Int16] = []
        while magnitude > 0 {
            digits.insert(Int16(magnitude % 10000), at: 0)
            magnitude /= 10000
        }
        var written = out.writeInteger(Int16(digits.count))
        written += out.writeInteger(Int16(max(0, digits.count - 1))) // weight
        written += out.writeInteger(UInt16(value < 0 ? 0x4000 : 0x0000)) // sign
        written += out.writeInteger(Int16(0)) // display scale
        for digit in digits { written += out.writeInteger(digit) }
        return written
    }

    /// `\x0a0b` (PostgreSQL's hex bytea output) to bytes; anything malformed gives no bytes.
    static func hexDecoded(_ text: String) -> [UInt8] {
        guard text.hasPrefix("\\x") else { return Array(text.utf8) }
        let hex = Array(text.utf8.dropFirst(2))
        guard hex.count % 2 == 0 else { return [] }
        var bytes: [UInt8] = []
        var index = 0
        while index < hex.count {
            guard let byte = UInt8(String(decoding: hex[index ..< index + 2], as: UTF8.self), radix: 16) else { return [] }
            bytes.append(byte)
            index += 2
        }
        return bytes
    }

    /// The result format codes at the end of a Bind message's remainder (after portal and
    /// statement names): parameter formats, parameters, then result formats.
    static func resultFormats(ofBindRemainder remainder: ByteBuffer) throws -> [Int16] {
        var buffer = remainder
        func int16() throws -> Int16 {
            guard let value = buffer.readInteger(as: Int16.self) else { throw ConsoleError(sqlState: "08P01", message: "malformed Bind message") }
            return value
        }
        let parameterFormatCount = try int16()
        guard parameterFormatCount >= 0, buffer.readableBytes >= Int(parameterFormatCount) * 2 else {
            throw ConsoleError(sqlState: "08P01", message: "malformed Bind message")
        }
        buffer.moveReaderIndex(forwardBy: Int(parameterFormatCount) * 2)
        let parameterCount = try int16()
        guard parameterCount >= 0 else { throw ConsoleError(sqlState: "08P01", message: "malformed Bind message") }
        for _ in 0 ..< parameterCount {
            guard let length = buffer.readInteger(as: Int32.self) else { throw ConsoleError(sqlState: "08P01", message: "malformed Bind message") }
            if length > 0 {
                guard buffer.readableBytes >= Int(length) else { throw ConsoleError(sqlState: "08P01", message: "malformed Bind message") }
                buffer.moveReaderIndex(forwardBy: Int(length))
            }
        }
        let resultFormatCount = try int16()
        guard resultFormatCount >= 0, buffer.readableBytes >= Int(resultFormatCount) * 2 else {
            throw ConsoleError(sqlState: "08P01", message: "malformed Bind message")
        }
        var formats: [Int16] = []
        for _ in 0 ..< resultFormatCount {
            let code = try int16()
            guard code == 0 || code == 1 else { throw ConsoleError(sqlState: "08P01", message: "unknown result format code \(code)") }
            formats.append(code)
        }
        return formats
    }
}
