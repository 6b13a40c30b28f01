/// One meaningful line of an INI file, after comments, blank lines and `%include` were resolved.
struct INIItem: Sendable, Equatable {
    enum Content: Sendable, Equatable {
        /// `[name]`, name as written (case preserved, surrounding blanks removed).
        case section(String)
        /// `key = value`: the key unquoted, the value with its trailing comment and blanks removed.
        case setting(key: String, value: String)
    }

    var content: Content
    var location: ConfigLocation
}

/// Reads the pgbouncer.ini dialect into a flat list of sections and settings, following `%include`.
///
/// Differences from PgBouncer, all of them supersets: a `;` or `#` that follows a blank (outside
/// quotes) starts a trailing comment, so `listen_port = 6432 ; comment` works (PgBouncer only knows
/// whole-line comments, and a pgbouncer.ini that relied on a ` ;` inside a value is vanishingly rare);
/// keys may be quoted with `"` as well as `'`; `%include` paths are relative to the including file
/// rather than the working directory.
struct INIReader {
    /// PgBouncer's limit for nested `%include`s.
    static let maxIncludeDepth = 10
    /// Lines longer than this are rejected rather than processed (bounded input).
    static let maxLineLength = 64 * 1024

    /// Returns the text of a file at a path that is already resolved against the including file.
    typealias FileReader = (_ path: String) throws -> String

    let readFile: FileReader

    init(readFile: @escaping FileReader) {
        self.readFile = readFile
    }

    /// Parses `text` (the contents of `path`), reading included files through `readFile`.
    func read(text: String, path: String) throws -> [INIItem] {
        var items: [INIItem] = []
        try read(text: text, path: path, includeStack: [path], into: &items)
        return items
    }

    private func read(text: String, path: String, includeStack: [String], into items: inout [INIItem]) throws {
        var lineNumber = 0
        // Editors on Windows may start UTF-8 files with a byte-order mark.
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let location = ConfigLocation(file: path, line: lineNumber)
            guard rawLine.utf8.count <= Self.maxLineLength else {
                throw ConfigError(kind: .syntax, location: location, key: nil,
                                  message: "line longer than \(Self.maxLineLength) bytes")
            }
            let line = rawLine.trimmingBlanks()
            if line.isEmpty || line.hasPrefix(";") || line.hasPrefix("#") { continue }

            if line.hasPrefix("%") {
                try readDirective(line, location: location, includeStack: includeStack, into: &items)
            } else if line.hasPrefix("[") {
                items.append(INIItem(content: .section(try sectionName(line, location: location)), location: location))
            } else {
                let (key, value) = try setting(line, location: location)
                items.append(INIItem(content: .setting(key: key, value: value), location: location))
            }
        }
    }

    private func readDirective(_ line: Substring, location: ConfigLocation, includeStack: [String],
                               into items: inout [INIItem]) throws {
        let directive = line.prefix { !$0.isBlank }
        guard directive == "%include" else {
            throw ConfigError(kind: .syntax, location: location, key: nil,
                              message: "unknown directive \"\(directive.prefix(40))\" (only %include is known)")
        }
        let argument = INIValueText.unquoted(INIValueText.strippingComment(line.dropFirst(directive.count)))
        guard !argument.isEmpty else {
            throw ConfigError(kind: .syntax, location: location, key: nil, message: "%include needs a file name")
        }
        let target = ConfigPath.resolve(argument, relativeToFileAt: location.file)
        guard includeStack.count < Self.maxIncludeDepth else {
            throw ConfigError(kind: .includeLoop, location: location, key: nil,
                              message: "%include nested more than \(Self.maxIncludeDepth) levels deep")
        }
        guard !includeStack.contains(target) else {
            throw ConfigError(kind: .includeLoop, location: location, key: nil,
                              message: "%include of \"\(target)\" includes itself")
        }
        let text: String
        do {
            text = try readFile(target)
        } catch let error as ConfigError {
            throw ConfigError(kind: error.kind, location: location, key: nil,
                              message: "cannot read included file \"\(target)\": \(error.message)")
        } catch {
            throw ConfigError(kind: .unreadableFile, location: location, key: nil,
                              message: "cannot read included file \"\(target)\": \(error)")
        }
        try read(text: text, path: target, includeStack: includeStack + [target], into: &items)
    }

    private func sectionName(_ line: Substring, location: ConfigLocation) throws -> String {
        guard let close = line.firstIndex(of: "]") else {
            throw ConfigError(kind: .syntax, location: location, key: nil, message: "section header without \"]\"")
        }
        let rest = INIValueText.strippingComment(line[line.index(after: close)...])
        guard rest.isEmpty else {
            throw ConfigError(kind: .syntax, location: location, key: nil, message: "unexpected text after section header")
        }
        let name = line[line.index(after: line.startIndex)..<close].trimmingBlanks()
        guard !name.isEmpty else {
            throw ConfigError(kind: .syntax, location: location, key: nil, message: "empty section name")
        }
        return String(name)
    }

    private func setting(_ line: Substring, location: ConfigLocation) throws -> (String, String) {
        let key: String
        var rest: Substring
        if let quote = line.first, quote == "'" || quote == "\"" {
            guard let (quotedKey, after) = INIValueText.quotedToken(line) else {
                throw ConfigError(kind: .syntax, location: location, key: nil, message: "unterminated quoted key")
            }
            guard !quotedKey.isEmpty else {
                throw ConfigError(kind: .syntax, location: location, key: nil, message: "empty quoted key")
            }
            key = quotedKey
            rest = after.trimmingBlanks()
        } else {
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError(kind: .syntax, location: location, key: nil,
                                  message: "expected \"key = value\", a [section] or a comment")
            }
            key = String(line[..<equals].trimmingBlanks())
            rest = line[equals...]
            guard !key.isEmpty, !key.contains(where: { $0.isBlank }) else {
                throw ConfigError(kind: .syntax, location: location, key: nil,
                                  message: "expected \"key = value\", a [section] or a comment")
            }
        }
        guard rest.first == "=" else {
            throw ConfigError(kind: .syntax, location: location, key: key, message: "expected \"=\" after the key")
        }
        rest = rest.dropFirst()
        return (key, INIValueText.strippingComment(rest))
    }
}

/// Small text helpers shared by the INI reader and the connection-string parser.
enum INIValueText {
    /// Removes a trailing `; comment` or `# comment` (one that starts the value or follows a blank,
    /// outside quotes) and the blanks around the value.
    static func strippingComment(_ text: Substring) -> String {
        var quote: Character?
        var previous: Character = " "
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if let open = quote {
                if character == open {
                    let next = text.index(after: index)
                    if next < text.endIndex, text[next] == open {
                        index = text.index(after: next)
                        previous = character
                        continue
                    }
                    quote = nil
                }
            } else if character == "'" || character == "\"" {
                if previous.isBlank || previous == "=" { quote = character }
            } else if character == ";" || character == "#" {
                if previous.isBlank { return String(text[..<index].trimmingBlanks()) }
            }
            previous = character
            index = text.index(after: index)
        }
        return String(text.trimmingBlanks())
    }

    /// Removes one pair of matching surrounding quotes (`'...'` or `"..."`, with a doubled quote
    /// standing for one), when the closing quote is the last character. Otherwise returns the text as is,
    /// so SQL such as `'a' = 'b'` is left alone.
    static func unquoted(_ text: String) -> String {
        guard let quote = text.first, quote == "'" || quote == "\"",
              let (inner, rest) = quotedToken(Substring(text)), rest.isEmpty else { return text }
        return inner
    }

    /// Reads a quoted token at the start of `text` (which must begin with `'` or `"`); returns its
    /// unescaped contents and what follows the closing quote, or `nil` when it is not terminated.
    static func quotedToken(_ text: Substring) -> (String, Substring)? {
        guard let quote = text.first else { return nil }
        var result = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == quote {
                if next < text.endIndex, text[next] == quote {
                    result.append(quote)
                    index = text.index(after: next)
                    continue
                }
                return (result, text[next...])
            }
            result.append(character)
            index = next
        }
        return nil
    }
}

/// Resolution of file names written in a config file.
enum ConfigPath {
    /// The directory part of `path` (`.` when it has none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// `name` if absolute (or `~`-relative, or empty), otherwise `name` relative to the directory of `file`.
    static func resolve(_ name: String, relativeToFileAt file: String) -> String {
        if name.isEmpty || name.hasPrefix("/") || name.hasPrefix("~") { return name }
        let directory = directory(of: file)
        if directory == "." { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

extension Character {
    /// Space, tab, carriage return or other whitespace within a line.
    var isBlank: Bool { self == " " || self == "\t" || self == "\r" || (isWhitespace && !isNewline) }
}

extension Substring {
    func trimmingBlanks() -> Substring {
        var result = self
        while let first = result.first, first.isBlank { result.removeFirst() }
        while let last = result.last, last.isBlank { result.removeLast() }
        return result
    }
}

extension String {
    func trimmingBlanks() -> String { String(Substring(self).trimmingBlanks()) }
}
