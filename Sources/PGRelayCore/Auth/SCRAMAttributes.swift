/// The `k=value` attribute list SCRAM messages consist of (RFC 5802 section 5.1), parsed strictly
/// but without ever trapping on input.
struct SCRAMAttributes {
    /// Longest SASL message accepted; PostgreSQL's own limit for authentication tokens.
    static let maximumMessageLength = 65_535

    /// The attributes in message order.
    private let items: [(key: Character, value: Substring)]
    private var position = 0

    /// Splits `text` at commas and checks that every part has the form `k=value`.
    init(_ text: Substring, messageName: String) throws {
        var items: [(key: Character, value: Substring)] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let key = part.first, key.isASCII, key.isLetter,
                part[part.index(after: part.startIndex)] == "="
            else {
                throw AuthError.protocolViolation(detail: "malformed attribute in \(messageName)")
            }
            items.append((key, part.dropFirst(2)))
        }
        self.items = items
    }

    /// Decodes a SASL payload as UTF-8 text, refusing oversized, empty, NUL-containing or
    /// non-UTF-8 input.
    static func text(of message: [UInt8], messageName: String) throws -> String {
        guard !message.isEmpty else {
            throw AuthError.protocolViolation(detail: "empty \(messageName)")
        }
        guard message.count <= maximumMessageLength else {
            throw AuthError.protocolViolation(detail: "\(messageName) is too long")
        }
        // Decoding repairs invalid sequences; comparing back detects them.
        let text = String(decoding: message, as: UTF8.self)
        guard !message.contains(0), text.utf8.elementsEqual(message) else {
            throw AuthError.protocolViolation(detail: "\(messageName) is not valid UTF-8 text")
        }
        return text
    }

    /// Whether all attributes have been consumed.
    var isAtEnd: Bool { position >= items.count }

    /// The key of the next attribute, without consuming it.
    var nextKey: Character? { isAtEnd ? nil : items[position].key }

    /// Consumes the next attribute, which must have key `key`.
    mutating func require(_ key: Character, in messageName: String) throws -> Substring {
        guard let value = take(key) else {
            throw AuthError.protocolViolation(
                detail: "expected attribute \"\(key)\" in \(messageName)")
        }
        return value
    }

    /// Consumes the next attribute if it has key `key`.
    mutating func take(_ key: Character) -> Substring? {
        guard nextKey == key else { return nil }
        defer { position += 1 }
        return items[position].value
    }

    /// Consumes the next attribute whatever its key (an extension).
    mutating func skip() {
        position += 1
    }
}
