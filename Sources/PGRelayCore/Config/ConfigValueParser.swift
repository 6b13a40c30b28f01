/// Why a single value was rejected; the caller adds file, line and key to make a `ConfigError`.
struct ConfigValueProblem: Error, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Parsers for the value types of config keys. Each takes the raw text after `=` (comment and
/// surrounding blanks already removed) and either returns a value or explains the problem.
enum ConfigValueParser {
    /// Longest value quoted back in an error message; keeps messages readable and bounded.
    private static let maxQuotedLength = 60

    /// `"abc"` for messages, shortened when long.
    static func quoted(_ text: String) -> String {
        let shown = text.count > maxQuotedLength ? String(text.prefix(maxQuotedLength)) + "..." : text
        return "\"\(shown)\""
    }

    /// A decimal integer (or `0x` hexadecimal, which PgBouncer's strtol also accepts) within `range`.
    static func integer(_ text: String, in range: ClosedRange<Int>) throws -> Int {
        let value = INIValueText.unquoted(text)
        let parsed: Int?
        let lower = value.lowercased()
        if lower.hasPrefix("0x") {
            parsed = Int(lower.dropFirst(2), radix: 16)
        } else if lower.hasPrefix("-0x") {
            parsed = Int(lower.dropFirst(3), radix: 16).map { -$0 }
        } else {
            parsed = Int(value.hasPrefix("+") ? String(value.dropFirst()) : value)
        }
        guard let number = parsed else { throw ConfigValueProblem("invalid integer \(quoted(value))") }
        guard range.contains(number) else {
            throw ConfigValueProblem("\(number) is out of range (\(describe(range)))")
        }
        return number
    }

    /// A file mode in octal (`0777`, `777`, `0o777`), as PgBouncer's unix_socket_mode.
    static func octalMode(_ text: String) throws -> Int {
        var value = INIValueText.unquoted(text)
        if value.lowercased().hasPrefix("0o") { value = String(value.dropFirst(2)) }
        guard !value.isEmpty, value.count <= 6, let mode = Int(value, radix: 8), (0...0o7777).contains(mode) else {
            throw ConfigValueProblem("invalid octal file mode \(quoted(value))")
        }
        return mode
    }

    /// Seconds as a non-negative decimal (`5`, `0.5`). Unit suffixes are refused, as PgBouncer does.
    static func seconds(_ text: String, max: Double = 1_000_000_000) throws -> Double {
        try decimal(text, in: 0...max, unitHint: "seconds")
    }

    /// A finite decimal number within `range`.
    static func decimal(_ text: String, in range: ClosedRange<Double>, unitHint: String? = nil) throws -> Double {
        let value = INIValueText.unquoted(text)
        guard let number = Double(value), number.isFinite,
              value.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" || $0 == "e" || $0 == "E" }) else {
            if let unitHint, value.contains(where: { $0.isLetter }) {
                throw ConfigValueProblem("invalid number \(quoted(value)) (write plain \(unitHint), without a unit)")
            }
            throw ConfigValueProblem("invalid number \(quoted(value))")
        }
        guard range.contains(number) else {
            throw ConfigValueProblem("\(format(number)) is out of range (\(format(range.lowerBound))..\(format(range.upperBound)))")
        }
        return number
    }

    /// `on/off`, `yes/no`, `true/false`, or an integer (non-zero is true, as PgBouncer's int flags).
    static func boolean(_ text: String) throws -> Bool {
        let value = INIValueText.unquoted(text)
        switch value.lowercased() {
        case "on", "yes", "true": return true
        case "off", "no", "false": return false
        default:
            if let number = Int(value) { return number != 0 }
            throw ConfigValueProblem("invalid boolean \(quoted(value)) (use on/off, yes/no, true/false, 1/0)")
        }
    }

    /// One of an enum's spellings, any letter case.
    static func choice<Choice: ConfigEnum>(_ text: String, as type: Choice.Type) throws -> Choice {
        let value = INIValueText.unquoted(text)
        guard let choice = Choice(configName: value) else {
            throw ConfigValueProblem("invalid value \(quoted(value)) (expected \(Choice.choices))")
        }
        return choice
    }

    /// A comma- or blank-separated list; empty items are dropped.
    static func list(_ text: String) -> [String] {
        INIValueText.unquoted(text)
            .split(whereSeparator: { $0 == "," || $0.isBlank })
            .map(String.init)
    }

    /// Text as written, minus one pair of surrounding quotes if the whole value is quoted.
    static func string(_ text: String) -> String {
        INIValueText.unquoted(text)
    }

    /// `nil` for an empty value, else the string.
    static func optionalString(_ text: String) -> String? {
        let value = string(text)
        return value.isEmpty ? nil : value
    }

    /// Numbers as PgBouncer's SHOW CONFIG prints them: no trailing `.0` for whole numbers.
    static func format(_ number: Double) -> String {
        if number == number.rounded(), abs(number) < 1e15 { return String(Int(number)) }
        return String(number)
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return ">= \(range.lowerBound)" }
        return "\(range.lowerBound)..\(range.upperBound)"
    }
}
