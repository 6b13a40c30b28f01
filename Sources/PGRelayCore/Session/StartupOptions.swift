/// The `options` startup parameter (libpq's `options=`, `PGOPTIONS`), read as PgBouncer reads it:
/// a list of `-c name=value` or `--name=value` settings separated by whitespace, where a backslash
/// makes the next character literal (`-c datestyle=German,\ YMD`). Other PostgreSQL command-line
/// switches (`-d`, `-B`...) are refused, since the proxy cannot hand them to each server it lends.
public enum StartupOptions {
    public enum Failure: Error, Equatable {
        /// Not a `-c name=value` / `--name=value` list.
        case notSettings

        /// PgBouncer's wording, which operators and tests match.
        public var message: String {
            "unsupported options startup parameter: only '-c config=val' and '--config=val' are allowed"
        }
    }

    /// The settings in `options`, in order, with escapes removed.
    public static func parse(_ options: String) throws -> [(name: String, value: String)] {
        var settings: [(name: String, value: String)] = []
        var rest = Substring(options)
        while true {
            rest = rest.drop(while: \.isWhitespace)
            if rest.isEmpty { return settings }
            if rest.hasPrefix("--") {
                rest = rest.dropFirst(2)
            } else if rest.hasPrefix("-c") {
                rest = rest.dropFirst(2).drop(while: \.isWhitespace)
            } else {
                throw Failure.notSettings
            }
            let token = readEscapedToken(&rest)
            guard let equals = token.firstIndex(of: "=") else { throw Failure.notSettings }
            settings.append((String(token[..<equals]), String(token[token.index(after: equals)...])))
        }
    }

    /// Characters up to the next unescaped whitespace; a backslash keeps the character after it
    /// (a trailing backslash is dropped).
    private static func readEscapedToken(_ rest: inout Substring) -> String {
        var token = ""
        var escaped = false
        while let character = rest.first {
            if escaped {
                token.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character.isWhitespace {
                break
            } else {
                token.append(character)
            }
            rest = rest.dropFirst()
        }
        return token
    }
}
