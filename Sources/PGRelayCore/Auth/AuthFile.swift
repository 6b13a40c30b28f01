import Foundation

/// A line of an auth_file that could not be read, with file and line number.
///
/// The description never quotes the line itself: it may contain a password.
public struct AuthFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file's path as given to the parser.
    public let path: String
    /// 1-based line number; 0 when the problem concerns the whole file.
    public let line: Int
    /// What was wrong.
    public let reason: String

    /// Creates an error for `line` (0 for the whole file) of `path`.
    public init(path: String, line: Int, reason: String) {
        self.path = path
        self.line = line
        self.reason = reason
    }

    /// `path:line: reason`, or `path: reason` for whole-file problems.
    public var description: String {
        line > 0 ? "\(path):\(line): \(reason)" : "\(path): \(reason)"
    }
}

/// Reader of PgBouncer's `auth_file` (userlist.txt) format.
///
/// Each entry is a line `"user" "secret"`, both double-quoted, where `""` stands for one `"` inside
/// a field. Anything after the second field is ignored (PgBouncer ignores it too). Blank lines and
/// lines starting with `;` or `#` are skipped. Unlike PgBouncer, which logs "broken auth file" and
/// silently keeps only the lines before the bad one, a malformed line is an error naming file and
/// line, so a typo cannot lock users out unnoticed. When a user appears twice the last entry wins.
public enum AuthFile {
    /// Files larger than this are refused before reading: an auth_file is small.
    public static let maximumFileSize = 64 * 1024 * 1024

    /// Parses the text of an auth_file into user name → secret (plain password, `md5...` or
    /// `SCRAM-SHA-256$...`; see ``StoredSecret/init(parsing:)``).
    public static func parse(text: String, path: String) throws -> [String: String] {
        var entries: [String: String] = [:]
        var lineNumber = 0
        // "\r\n" is a single Character in Swift, so both line endings are named explicitly.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        for line in lines {
            lineNumber += 1
            var scanner = FieldScanner(line: Substring(line))
            scanner.skipWhitespace()
            guard let first = scanner.peek(), first != ";", first != "#" else { continue }
            func fail(_ reason: String) -> AuthFileError {
                AuthFileError(path: path, line: lineNumber, reason: reason)
            }
            guard let user = try scanner.quotedField(name: "user name", fail: fail) else {
                throw fail("expected a double-quoted user name")
            }
            guard !user.isEmpty else { throw fail("empty user name") }
            guard scanner.skipWhitespace() > 0 || scanner.peek() == nil else {
                throw fail("expected whitespace after the user name")
            }
            guard let secret = try scanner.quotedField(name: "secret", fail: fail) else {
                throw fail("expected a double-quoted secret after the user name")
            }
            entries[user] = secret
        }
        return entries
    }

    /// Reads and parses the auth_file at `path`.
    public static func load(path: String) throws -> [String: String] {
        let url = URL(fileURLWithPath: path)
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw AuthFileError(path: path, line: 0, reason: "cannot read file: \(error.localizedDescription)")
        }
        if let size = attributes[.size] as? NSNumber, size.intValue > maximumFileSize {
            throw AuthFileError(path: path, line: 0, reason: "file is larger than \(maximumFileSize) bytes")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AuthFileError(path: path, line: 0, reason: "cannot read file: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AuthFileError(path: path, line: 0, reason: "file is not valid UTF-8")
        }
        return try parse(text: text, path: path)
    }
}

/// Walks one auth_file line character by character.
private struct FieldScanner {
    private let line: Substring
    private var index: Substring.Index

    init(line: Substring) {
        self.line = line
        self.index = line.startIndex
    }

    func peek() -> Character? {
        index < line.endIndex ? line[index] : nil
    }

    /// Skips spaces and tabs; returns how many were skipped.
    @discardableResult
    mutating func skipWhitespace() -> Int {
        var count = 0
        while let character = peek(), character == " " || character == "\t" {
            index = line.index(after: index)
            count += 1
        }
        return count
    }

    /// Reads a `"..."` field with `""` escapes. Returns nil when no field starts here.
    mutating func quotedField(name: String, fail: (String) -> AuthFileError) throws -> String? {
        guard peek() == "\"" else { return nil }
        index = line.index(after: index)
        var value = ""
        while index < line.endIndex {
            let character = line[index]
            index = line.index(after: index)
            if character == "\"" {
                if peek() == "\"" {
                    value.append("\"")
                    index = line.index(after: index)
                } else {
                    return value
                }
            } else {
                value.append(character)
            }
        }
        throw fail("unterminated quoted \(name)")
    }
}
