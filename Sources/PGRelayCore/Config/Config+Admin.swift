/// One row of SHOW CONFIG / GET /config.
public struct ConfigSettingRow: Sendable, Hashable {
    public var key: String
    /// Current value, with secrets masked.
    public var value: String
    /// pgrelay's default, with secrets masked.
    public var defaultValue: String
    /// Whether console `SET` (and reload) may change it while running.
    public var changeable: Bool
}

extension Config {
    /// Every key with its value and default as SHOW CONFIG / GET /config show them: PgBouncer's
    /// keys first in PgBouncer's order, then pgrelay's own, alphabetically. Credentials are masked,
    /// and single-quoted literals in SQL-valued keys are replaced by `'***'`.
    public func redactedKeyValues() -> [(key: String, value: String, default: String, changeable: Bool)] {
        settingRows().map { ($0.key, $0.value, $0.defaultValue, $0.changeable) }
    }

    /// `redactedKeyValues()` as named rows.
    public func settingRows() -> [ConfigSettingRow] {
        let defaults = Config()
        return ConfigCatalog.listed.map { item in
            ConfigSettingRow(key: item.name,
                             value: ConfigRedaction.redact(item.value(self), exposure: item.exposure),
                             defaultValue: ConfigRedaction.redact(item.value(defaults), exposure: item.exposure),
                             changeable: item.changeable)
        }
    }

    /// The config after console `SET key = value`: the same validation as in a file, and only for
    /// keys that may change at run time.
    /// - Throws: `ConfigError` (`.unknownOption`, `.notChangeable`, `.invalidValue`, `.inconsistent`).
    public func set(key: String, value: String) throws -> Config {
        let name = key.lowercased()
        guard let item = ConfigCatalog.item(named: name) else {
            let hint = ConfigKeySuggestion.hint(for: name, among: ConfigCatalog.all.map(\.name))
            throw ConfigError(kind: .unknownOption, location: nil, key: String(key.prefix(80)),
                              message: "unknown configuration key" + hint)
        }
        guard item.changeable else {
            throw ConfigError(kind: .notChangeable, location: nil, key: name,
                              message: "cannot be changed at run time; edit the config file and restart")
        }
        var updated = self
        do {
            try item.apply(&updated, value, ConfigKey.Context(file: conffile))
        } catch let problem as ConfigValueProblem {
            throw ConfigError(kind: .invalidValue, location: nil, key: name, message: problem.message)
        }
        if let problem = updated.consistencyProblem() {
            throw ConfigError(kind: .inconsistent, location: nil, key: problem.key, message: problem.message)
        }
        return updated
    }

    /// Names of the `[pgrelay]` keys whose value differs from `old`, in SHOW CONFIG order
    /// (for reload: the caller applies them, and warns about those not `isChangeable(key:)`).
    public func changedKeys(from old: Config) -> [String] {
        ConfigCatalog.all.filter { $0.value(self) != $0.value(old) }.map(\.name)
    }

    /// Whether a key may change without a restart (`false` for unknown keys).
    public static func isChangeable(key: String) -> Bool {
        ConfigCatalog.item(named: key.lowercased())?.changeable ?? false
    }

    /// Databases added, removed or changed (any option, password included) relative to `old`.
    public func databaseChanges(from old: Config) -> ConfigSectionChanges {
        ConfigSectionChanges(old: old.databases, new: databases, name: \.name)
    }

    /// Users added, removed or changed relative to `old`.
    public func userChanges(from old: Config) -> ConfigSectionChanges {
        ConfigSectionChanges(old: old.users, new: users, name: \.name)
    }
}

/// Entry names added, removed and changed between two configs, each in file order.
public struct ConfigSectionChanges: Sendable, Hashable {
    public var added: [String]
    public var removed: [String]
    public var changed: [String]

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

    public init(added: [String] = [], removed: [String] = [], changed: [String] = []) {
        self.added = added
        self.removed = removed
        self.changed = changed
    }

    init<Entry: Equatable>(old: [Entry], new: [Entry], name: (Entry) -> String) {
        let oldByName = Dictionary(old.map { (name($0), $0) }, uniquingKeysWith: { _, last in last })
        let newNames = Set(new.map(name))
        added = new.filter { oldByName[name($0)] == nil }.map(name)
        removed = old.filter { !newNames.contains(name($0)) }.map(name)
        changed = new.filter { entry in oldByName[name(entry)].map { $0 != entry } ?? false }.map(name)
    }
}

/// Implemented keys and keys without effect, seen uniformly: name, printed value, changeability.
enum ConfigCatalog {
    struct Item: Sendable {
        let name: String
        let changeable: Bool
        let exposure: ConfigKey.Exposure
        let value: ConfigKey.Render
        let apply: ConfigKey.Apply
    }

    /// Everything SET, reload diffs and SHOW CONFIG know, in SHOW CONFIG order; hidden keys last.
    static let all: [Item] = {
        let implemented = ConfigKeys.implemented.map { key in
            (key.origin, key.hidden, Item(name: key.name, changeable: key.changeable, exposure: key.exposure,
                                          value: key.render, apply: key.apply))
        }
        let noEffect = (PgBouncerNoEffectKeys.all + PgBouncerNoEffectKeys.unlisted).map { entry in
            (ConfigKey.Origin.pgbouncer, PgBouncerNoEffectKeys.unlisted.contains { $0.name == entry.name },
             Item(name: entry.name, changeable: entry.changeable, exposure: entry.exposure,
                  value: { $0.noEffectSettings[entry.name] ?? entry.pgbouncerDefault },
                  apply: { config, text, _ in config.noEffectSettings[entry.name] = ConfigValueParser.string(text) }))
        }
        let everything = implemented + noEffect
        func group(_ origin: ConfigKey.Origin, hidden: Bool) -> [Item] {
            everything.filter { $0.0 == origin && $0.1 == hidden }.map(\.2).sorted { $0.name < $1.name }
        }
        return group(.pgbouncer, hidden: false) + group(.pgrelay, hidden: false)
            + group(.pgbouncer, hidden: true) + group(.pgrelay, hidden: true)
    }()

    /// Number of leading items of `all` that SHOW CONFIG lists.
    private static let listedCount: Int = {
        ConfigKeys.implemented.filter { !$0.hidden }.count + PgBouncerNoEffectKeys.all.count
    }()

    /// What SHOW CONFIG lists.
    static var listed: ArraySlice<Item> { all.prefix(listedCount) }

    private static let byName: [String: Item] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    static func item(named name: String) -> Item? { byName[name] }
}

/// Masking of values before they leave the process (SHOW CONFIG, GET /config, logs).
enum ConfigRedaction {
    static func redact(_ value: String, exposure: ConfigKey.Exposure) -> String {
        switch exposure {
        case .plain: return value
        case .secret: return value.isEmpty ? "" : "***"
        case .sql: return maskingSQLLiterals(value)
        }
    }

    /// Replaces the contents of every single-quoted SQL literal by `***` (`''` inside stays escaped).
    static func maskingSQLLiterals(_ sql: String) -> String {
        var result = ""
        var inLiteral = false
        var characters = sql[...]
        while let character = characters.popFirst() {
            if character == "'" {
                if inLiteral, characters.first == "'" {
                    characters.removeFirst()
                    continue
                }
                inLiteral.toggle()
                result.append(character)
                if inLiteral { result += "***" }
            } else if !inLiteral {
                result.append(character)
            }
        }
        return result
    }
}

// Secrets must not reach logs through string interpolation of a config value, so both
// descriptions are short, masked summaries rather than the default field dump.
extension Config: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        let databaseNames = databases.map(\.name).joined(separator: ", ")
        return "Config(\(conffile), listen \(listenAddr):\(listenPort), pool_mode \(poolMode.configName), "
            + "default_pool_size \(defaultPoolSize), databases [\(databaseNames)], users \(users.count))"
    }

    public var debugDescription: String { description }
}

extension DatabaseConfig: CustomDebugStringConvertible {
    public var debugDescription: String { description }
}
