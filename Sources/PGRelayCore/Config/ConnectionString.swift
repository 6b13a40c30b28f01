/// The `key=value key='quoted value'` lists used by `[databases]`, `[users]` and `[peers]` entries,
/// read the way PgBouncer reads them: pairs separated by blanks, a value either runs to the next
/// blank or is single-quoted with `''` standing for one quote, and empty values are refused.
enum ConnectionString {
    struct Pair: Equatable {
        var key: String
        var value: String
    }

    static func parse(_ text: String) throws -> [Pair] {
        var pairs: [Pair] = []
        var rest = Substring(text).trimmingBlanks()
        while !rest.isEmpty {
            guard let equals = rest.firstIndex(of: "=") else {
                throw ConfigValueProblem("expected key=value, found \(ConfigValueParser.quoted(String(rest)))")
            }
            let key = rest[..<equals].trimmingBlanks()
            guard !key.isEmpty, !key.contains(where: { $0.isBlank }) else {
                throw ConfigValueProblem("expected key=value, found \(ConfigValueParser.quoted(String(rest[...equals])))")
            }
            rest = rest[rest.index(after: equals)...]
            while let first = rest.first, first.isBlank { rest.removeFirst() }
            let value: String
            if rest.first == "'" {
                guard let (unquoted, after) = INIValueText.quotedToken(rest) else {
                    throw ConfigValueProblem("unterminated quoted value for \(key)")
                }
                guard after.isEmpty || after.first?.isBlank == true else {
                    throw ConfigValueProblem("unexpected text after quoted value of \(key)")
                }
                value = unquoted
                rest = after
            } else {
                let end = rest.firstIndex(where: { $0.isBlank }) ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            guard !value.isEmpty else { throw ConfigValueProblem("empty value for \(key)") }
            pairs.append(Pair(key: String(key), value: value))
            rest = rest.trimmingBlanks()
        }
        return pairs
    }
}
