import Foundation

/// A config that loaded, with the warnings (unknown keys, keys without effect) to show the operator.
public struct LoadedConfig: Sendable {
    public let config: Config
    public let warnings: [ConfigWarning]

    public init(config: Config, warnings: [ConfigWarning]) {
        self.config = config
        self.warnings = warnings
    }
}

/// Reads pgrelay.ini / pgbouncer.ini files into a validated `Config`.
public enum ConfigLoader {
    /// Returns the text of a file, given its path (already resolved against the including file).
    public typealias FileReader = (_ path: String) throws -> String

    /// Largest config file read (bounded input).
    public static let maxFileSize = 16 * 1024 * 1024

    /// Reads and validates the config file at `path`, following `%include`s.
    /// - Throws: `ConfigError` naming file, line and key of the first problem.
    public static func load(path: String) throws -> LoadedConfig {
        let text = try readFile(path)
        return try parse(text: text, path: path, includeResolver: readFile)
    }

    /// Validates config `text` as if read from `path` (used for messages, relative `%include`s and
    /// relative file names). `includeResolver` reads included files; by default from disk.
    /// - Throws: `ConfigError` naming file, line and key of the first problem.
    public static func parse(text: String, path: String, includeResolver: FileReader? = nil) throws -> LoadedConfig {
        let items = try INIReader(readFile: includeResolver ?? readFile).read(text: text, path: path)
        var builder = ConfigBuilder(path: path)
        for item in items {
            try builder.add(item)
        }
        return try builder.finish()
    }

    /// Reads a whole file as UTF-8 with Foundation, refusing files larger than `maxFileSize`.
    public static func readFile(_ path: String) throws -> String {
        let location = ConfigLocation(file: path, line: nil)
        let data: Data
        do {
            let url = URL(fileURLWithPath: path)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            guard size <= maxFileSize else {
                throw ConfigError(kind: .unreadableFile, location: location, key: nil,
                                  message: "file larger than \(maxFileSize) bytes")
            }
            data = try Data(contentsOf: url)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(kind: .unreadableFile, location: location, key: nil,
                              message: "cannot read file: \((error as NSError).localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(kind: .unreadableFile, location: location, key: nil, message: "file is not valid UTF-8")
        }
        return text
    }
}

/// Turns the INI items of one config (main file plus includes) into a `Config`, section by section.
struct ConfigBuilder {
    private enum Section {
        case main, databases, users, peers
    }

    private struct Entry {
        var name: String
        var value: String
        var location: ConfigLocation
    }

    /// PostgreSQL's limit for identifiers (NAMEDATALEN - 1), which database and user names obey.
    private static let maxNameLength = 63

    private let path: String
    private var config = Config()
    private var warnings: [ConfigWarning] = []
    private var section: Section?
    private var sawMainSection = false
    /// The main section was written `[pgbouncer]`: PgBouncer's file, run unchanged.
    private var isPgBouncerFile = false
    private var databasesHeader: ConfigLocation?
    private var databaseEntries: [Entry] = []
    private var userEntries: [Entry] = []
    /// Where each `[pgrelay]` key was last set, to point consistency errors at the right line.
    private var keyLocations: [String: ConfigLocation] = [:]

    init(path: String) {
        self.path = path
        config.conffile = path
        config.authFile = ConfigPath.resolve(config.authFile, relativeToFileAt: path)
    }

    mutating func add(_ item: INIItem) throws {
        switch item.content {
        case .section(let name):
            try enterSection(name, at: item.location)
        case .setting(let key, let value):
            switch section {
            case nil:
                throw ConfigError(kind: .syntax, location: item.location, key: key,
                                  message: "setting before any [section]")
            case .main?:
                try setMainKey(key, value: value, at: item.location)
            case .databases?:
                try validateEntryName(key, section: "databases", at: item.location)
                Self.upsert(Entry(name: key, value: value, location: item.location), into: &databaseEntries)
            case .users?:
                try validateEntryName(key, section: "users", at: item.location)
                Self.upsert(Entry(name: key, value: value, location: item.location), into: &userEntries)
            case .peers?:
                break
            }
        }
    }

    private mutating func enterSection(_ name: String, at location: ConfigLocation) throws {
        switch name.lowercased() {
        case "pgrelay", "pgbouncer":
            section = .main
            sawMainSection = true
            if name.lowercased() == "pgbouncer" { isPgBouncerFile = true }
        case "databases":
            section = .databases
            databasesHeader = databasesHeader ?? location
        case "users":
            section = .users
        case "peers":
            section = .peers
            warnings.append(ConfigWarning(location: location, key: nil,
                                          message: "[peers] is accepted but ignored: pgrelay does not support peering"))
        default:
            throw ConfigError(kind: .unknownSection, location: location, key: nil,
                              message: "unknown section [\(name.prefix(40))] (expected [pgrelay] or [pgbouncer], [databases], [users], [peers])")
        }
    }

    private mutating func setMainKey(_ key: String, value: String, at location: ConfigLocation) throws {
        let name = key.lowercased()
        if let configKey = ConfigKeys.key(named: name) {
            do {
                try configKey.apply(&config, value, ConfigKey.Context(file: location.file))
            } catch let problem as ConfigValueProblem {
                throw ConfigError(kind: .invalidValue, location: location, key: name, message: problem.message)
            }
            keyLocations[name] = location
        } else if let entry = PgBouncerNoEffectKeys.entry(named: name) {
            config.noEffectSettings[entry.name] = ConfigValueParser.string(value)
            warnings.append(ConfigWarning(location: location, key: entry.name,
                                          message: "has no effect in pgrelay (\(entry.reason))"))
        } else {
            let hint = ConfigKeySuggestion.hint(for: name, among: ConfigCatalog.all.map(\.name))
            warnings.append(ConfigWarning(location: location, key: String(key.prefix(80)), message: "unknown key, ignored" + hint))
        }
    }

    private func validateEntryName(_ name: String, section: String, at location: ConfigLocation) throws {
        if section == "databases", ReservedDatabaseNames.contains(name) {
            throw ConfigError(kind: .invalidValue, location: location, key: name,
                              message: "database name \"\(name)\" is reserved for the admin console")
        }
        guard name.utf8.count <= Self.maxNameLength else {
            throw ConfigError(kind: .invalidValue, location: location, key: String(name.prefix(40)) + "...",
                              message: "name longer than \(Self.maxNameLength) bytes")
        }
    }

    /// A name given twice keeps its first position and takes its last value.
    private static func upsert(_ entry: Entry, into entries: inout [Entry]) {
        if let index = entries.firstIndex(where: { $0.name == entry.name }) {
            entries[index] = entry
        } else {
            entries.append(entry)
        }
    }

    mutating func finish() throws -> LoadedConfig {
        let fileLocation = ConfigLocation(file: path, line: nil)
        guard sawMainSection else {
            throw ConfigError(kind: .inconsistent, location: fileLocation, key: nil,
                              message: "no [pgrelay] (or [pgbouncer]) section")
        }
        config.databases = try databaseEntries.map { entry in
            try Self.entry(entry) {
                try DatabaseConfig.parse(name: entry.name, connectionString: entry.value, unixSocketDir: config.unixSocketDir)
            }
        }
        config.users = try userEntries.map { entry in
            try Self.entry(entry) { try UserConfig.parse(name: entry.name, settings: entry.value) }
        }
        if isPgBouncerFile { config.applyPgBouncerFileDefaults(keysSet: Set(keyLocations.keys)) }
        if config.databases.isEmpty {
            // PgBouncer's stock pgbouncer.ini has an empty [databases] and still starts (console only).
            warnings.append(ConfigWarning(location: databasesHeader ?? fileLocation, key: nil,
                                          message: "no databases: clients can reach only the admin console; add entries (or \"* = host=...\") to [databases]"))
        }
        if let problem = config.consistencyProblem() {
            throw ConfigError(kind: .inconsistent, location: keyLocations[problem.key] ?? fileLocation,
                              key: problem.key, message: problem.message)
        }
        for warning in config.authDatabaseWarnings() {
            let location = warning.database.flatMap { name in databaseEntries.last(where: { $0.name == name })?.location }
            warnings.append(ConfigWarning(location: location ?? keyLocations["auth_dbname"] ?? fileLocation,
                                          key: warning.database ?? "auth_dbname", message: warning.message))
        }
        return LoadedConfig(config: config, warnings: warnings)
    }

    private static func entry<Value>(_ entry: Entry, _ parse: () throws -> Value) throws -> Value {
        do {
            return try parse()
        } catch let problem as ConfigValueProblem {
            throw ConfigError(kind: .invalidValue, location: entry.location, key: entry.name, message: problem.message)
        } catch let unknown as ConfigUnknownOption {
            throw ConfigError(kind: .unknownOption, location: entry.location, key: entry.name, message: unknown.message)
        }
    }
}

extension Config {
    /// A contradiction between settings that are each valid, naming the key to blame.
    func consistencyProblem() -> (key: String, message: String)? {
        if healthDegradedRatio > healthUnhealthyRatio {
            return ("health_degraded_ratio",
                    "\(ConfigValueParser.format(healthDegradedRatio)) is above health_unhealthy_ratio (\(ConfigValueParser.format(healthUnhealthyRatio)))")
        }
        if adminPort != 0, adminPort == listenPort, adminAddr == listenAddr || listenAddresses.contains("*") {
            return ("admin_port", "\(adminPort) is also listen_port")
        }
        return nil
    }
}
