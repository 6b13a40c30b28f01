/// Where a setting came from: the file (as named in the config or an `%include`) and its 1-based line.
public struct ConfigLocation: Sendable, Hashable, CustomStringConvertible {
    /// Path of the file as it was opened (the main config path, or the resolved `%include` path).
    public var file: String
    /// 1-based line number; `nil` when the problem concerns the file as a whole.
    public var line: Int?

    public init(file: String, line: Int?) {
        self.file = file
        self.line = line
    }

    public var description: String {
        if let line { return "\(file):\(line)" }
        return file
    }
}

/// A problem that makes a config unusable: the process must not start with it (or, on reload,
/// must keep the old config). `description` reads like a compiler diagnostic:
/// `pgrelay.ini:12: default_pool_size: invalid integer "abc"`.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is; lets callers and tests tell problems apart without parsing text.
    public enum Kind: String, Sendable, Hashable {
        /// The file could not be read.
        case unreadableFile
        /// A line is not `key = value`, `[section]`, `%include FILE` or a comment.
        case syntax
        /// A section other than [pgrelay]/[pgbouncer], [databases], [users], [peers].
        case unknownSection
        /// `%include` nesting too deep or a file including itself.
        case includeLoop
        /// A value that does not parse or is out of range for its key.
        case invalidValue
        /// An option not valid in a `[databases]`/`[users]` entry, or an unknown key given to console `SET`.
        case unknownOption
        /// Settings that are each valid but contradict each other, or something required is missing.
        case inconsistent
        /// A key that exists but cannot be changed at run time (console `SET`).
        case notChangeable
    }

    public var kind: Kind
    /// File and line of the offending text; `nil` for problems of the whole config (e.g. console `SET`).
    public var location: ConfigLocation?
    /// The setting concerned (`default_pool_size`, or `[databases] appdb` style for entries).
    public var key: String?
    /// Human-readable explanation. Never contains secrets.
    public var message: String

    public init(kind: Kind, location: ConfigLocation?, key: String?, message: String) {
        self.kind = kind
        self.location = location
        self.key = key
        self.message = message
    }

    public var file: String? { location?.file }
    public var line: Int? { location?.line }

    public var description: String {
        var parts: [String] = []
        if let location { parts.append(location.description) }
        if let key { parts.append(key) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// Something worth telling the operator that does not stop the config from loading:
/// an unknown key, a PgBouncer key without effect in pgrelay, an ignored section.
public struct ConfigWarning: Sendable, Hashable, CustomStringConvertible {
    public var location: ConfigLocation
    public var key: String?
    public var message: String

    public init(location: ConfigLocation, key: String?, message: String) {
        self.location = location
        self.key = key
        self.message = message
    }

    public var file: String { location.file }
    public var line: Int? { location.line }

    public var description: String {
        var parts = [location.description]
        if let key { parts.append(key) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
