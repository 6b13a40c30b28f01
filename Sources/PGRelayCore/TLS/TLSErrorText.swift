/// TLS library errors in the words operators know from OpenSSL, libpq and PgBouncer.
///
/// BoringSSL (through swift-nio-ssl) describes a failed handshake as
/// `Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at
/// /path/handshake.cc:298`; OpenSSL, and so PgBouncer's log, says `certificate verify failed`.
/// The reason code is what matters, in OpenSSL's spelling: lower case, words apart.
public enum TLSErrorText {
    /// The reasons of every `error:code:library:function:REASON` item in `text`, in OpenSSL's
    /// spelling (`certificate verify failed`), in order, without repeats.
    public static func reasons(in text: String) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "error:") {
            rest = rest[start.upperBound...]
            // code:library:function:REASON; the library may have spaces ("SSL routines").
            let fields = rest.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count == 4, let code = fields.first, isHexCode(code) else { continue }
            let reason = fields[3].prefix { isReasonCharacter($0) }
            guard !reason.isEmpty else { continue }
            let words = String(reason.lowercased().map { $0 == "_" ? " " : $0 })
            if !found.contains(words) { found.append(words) }
            rest = fields[3][reason.endIndex...]
        }
        return found
    }

    /// `text` in a sentence: its reasons joined by `; `, or `text` itself when it has none.
    public static func describe(_ text: String) -> String {
        let found = reasons(in: text)
        return found.isEmpty ? text : found.joined(separator: "; ")
    }

    private static func isHexCode(_ field: Substring) -> Bool {
        !field.isEmpty && field.count <= 16 && field.allSatisfy(\.isHexDigit)
    }

    /// A reason code is upper-case letters, digits and underscores.
    private static func isReasonCharacter(_ character: Character) -> Bool {
        (character >= "A" && character <= "Z") || (character >= "0" && character <= "9") || character == "_"
    }
}
