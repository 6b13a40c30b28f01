extension ErrorFields {
    /// The SQLSTATE (`C` field) of a whole ErrorResponse or NoticeResponse frame (type byte,
    /// length, fields), read in place without decoding the other fields: a message may quote the
    /// statement's literals, and only the code is wanted. Nil when the frame has no code or is
    /// malformed.
    public static func sqlState(inFrame bytes: UnsafeRawBufferPointer) -> String? {
        var position = 5
        while position < bytes.count {
            let code = bytes[position]
            if code == 0 { return nil }
            let valueStart = position + 1
            guard valueStart < bytes.count,
                  let terminator = UnsafeRawBufferPointer(rebasing: bytes[valueStart...]).firstIndex(of: 0)
            else { return nil }
            let valueEnd = valueStart + terminator
            if code == UInt8(ascii: "C") {
                return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart ..< valueEnd]), as: UTF8.self)
            }
            position = valueEnd + 1
        }
        return nil
    }
}
