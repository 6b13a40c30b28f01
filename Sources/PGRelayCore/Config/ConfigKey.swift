/// One `[pgrelay]` key: how its text becomes a typed property, how the property prints back
/// (SHOW CONFIG, reload diffs), and whether it may change while running.
///
/// The table of keys is the single source of truth for parsing, console `SET`, SHOW CONFIG and
/// reload diffs; a key's default is what it prints for `Config()`, so defaults live only in `Config`.
struct ConfigKey: Sendable {
    /// Where the key comes from; SHOW CONFIG lists PgBouncer's keys first, in PgBouncer's order.
    enum Origin: Sendable { case pgbouncer, pgrelay }

    /// How much of the value SHOW CONFIG / GET /config may reveal.
    enum Exposure: Sendable {
        case plain
        /// SQL text: single-quoted literals are masked.
        case sql
        /// Hidden entirely (may hold credentials).
        case secret
    }

    /// What a value setter gets besides the text: the file the setting came from, so relative
    /// file names resolve against it.
    struct Context {
        var file: String
    }

    typealias Apply = @Sendable (inout Config, String, Context) throws -> Void
    typealias Render = @Sendable (Config) -> String

    let name: String
    let origin: Origin
    /// May change at run time (console SET, reload); otherwise it needs a restart.
    let changeable: Bool
    let exposure: Exposure
    /// Left out of SHOW CONFIG and the example config (benchmark switches).
    let hidden: Bool
    let apply: Apply
    let render: Render

    init(_ name: String, origin: Origin = .pgbouncer, changeable: Bool = true, exposure: Exposure = .plain,
         hidden: Bool = false, apply: @escaping Apply, render: @escaping Render) {
        self.name = name
        self.origin = origin
        self.changeable = changeable
        self.exposure = exposure
        self.hidden = hidden
        self.apply = apply
        self.render = render
    }
}

// Builders for the common value types. Key paths are captured by `@Sendable` closures; they
// are immutable values, so sharing them across threads is safe.
extension ConfigKey {
    static func int(_ name: String, _ keyPath: WritableKeyPath<Config, Int> & Sendable, _ range: ClosedRange<Int>,
                    origin: Origin = .pgbouncer, changeable: Bool = true) -> ConfigKey {
        ConfigKey(name, origin: origin, changeable: changeable,
                  apply: { config, text, _ in config[keyPath: keyPath] = try ConfigValueParser.integer(text, in: range) },
                  render: { String($0[keyPath: keyPath]) })
    }

    static func count(_ name: String, _ keyPath: WritableKeyPath<Config, Int> & Sendable,
                      origin: Origin = .pgbouncer, changeable: Bool = true) -> ConfigKey {
        int(name, keyPath, 0...Int(Int32.max), origin: origin, changeable: changeable)
    }

    static func seconds(_ name: String, _ keyPath: WritableKeyPath<Config, Double> & Sendable,
                        origin: Origin = .pgbouncer, changeable: Bool = true) -> ConfigKey {
        ConfigKey(name, origin: origin, changeable: changeable,
                  apply: { config, text, _ in config[keyPath: keyPath] = try ConfigValueParser.seconds(text) },
                  render: { ConfigValueParser.format($0[keyPath: keyPath]) })
    }

    static func decimal(_ name: String, _ keyPath: WritableKeyPath<Config, Double> & Sendable, _ range: ClosedRange<Double>,
                        origin: Origin = .pgrelay, changeable: Bool = true) -> ConfigKey {
        ConfigKey(name, origin: origin, changeable: changeable,
                  apply: { config, text, _ in config[keyPath: keyPath] = try ConfigValueParser.decimal(text, in: range) },
                  render: { ConfigValueParser.format($0[keyPath: keyPath]) })
    }

    /// PgBouncer prints its flags as 0/1; pgrelay's own flags print as on/off, as documented.
    static func bool(_ name: String, _ keyPath: WritableKeyPath<Config, Bool> & Sendable,
                     origin: Origin = .pgbouncer, changeable: Bool = true, hidden: Bool = false) -> ConfigKey {
        ConfigKey(name, origin: origin, changeable: changeable, hidden: hidden,
                  apply: { config, text, _ in config[keyPath: keyPath] = try ConfigValueParser.boolean(text) },
                  render: { config in
                      let value = config[keyPath: keyPath]
                      if origin == .pgbouncer { return value ? "1" : "0" }
                      return value ? "on" : "off"
                  })
    }

    static func string(_ name: String, _ keyPath: WritableKeyPath<Config, String> & Sendable,
                       origin: Origin = .pgbouncer, changeable: Bool = true, exposure: Exposure = .plain) -> ConfigKey {
        ConfigKey(name, origin: origin, changeable: changeable, exposure: exposure,
                  apply: { config, text, _ in config[keyPath: keyPath] = ConfigValueParser.string(text) },
                  render: { $0[keyPath: keyPath] })
    }

    static func optionalString(_ name: String, _ keyPath: WritableKeyPath<Config, String?> & Sendable,
                               changeable: Bool = true) -> ConfigKey {
        ConfigKey(name, changeable: changeable,
                  apply: { config, text, _ in config[keyPath: keyPath] = ConfigValueParser.optionalString(text) },
                  render: { $0[keyPath: keyPath] ?? "" })
    }

    /// A file name; relative names resolve against the directory of the file that set it.
    static func path(_ name: String, _ keyPath: WritableKeyPath<Config, String> & Sendable,
                     changeable: Bool = true) -> ConfigKey {
        ConfigKey(name, changeable: changeable,
                  apply: { config, text, context in
                      config[keyPath: keyPath] = ConfigPath.resolve(ConfigValueParser.string(text), relativeToFileAt: context.file)
                  },
                  render: { $0[keyPath: keyPath] })
    }

    static func list(_ name: String, _ keyPath: WritableKeyPath<Config, [String]> & Sendable,
                     origin: Origin = .pgbouncer, changeable: Bool = true) -> ConfigKey {
        ConfigKey(name, origin: origin, changeable: changeable,
                  apply: { config, text, _ in config[keyPath: keyPath] = ConfigValueParser.list(text) },
                  render: { $0[keyPath: keyPath].joined(separator: ",") })
    }

    /// A TLS protocol list (`secure`, `tlsv1.2,tlsv1.3`); see `TLSProtocolRange`.
    static func tlsProtocols(_ name: String, _ keyPath: WritableKeyPath<Config, String> & Sendable) -> ConfigKey {
        tlsSetting(name, keyPath) { _ = try TLSProtocolRange($0) }
    }

    /// A TLS cipher string or PgBouncer shortcut; see `TLSCipherSelection`.
    static func tlsCiphers(_ name: String, _ keyPath: WritableKeyPath<Config, String> & Sendable) -> ConfigKey {
        tlsSetting(name, keyPath) { _ = try TLSCipherSelection($0) }
    }

    /// A TLS setting kept as written (SHOW CONFIG prints it back) and checked when read, so a bad
    /// value is reported with its file and line rather than when TLS contexts are built.
    private static func tlsSetting(_ name: String, _ keyPath: WritableKeyPath<Config, String> & Sendable,
                                   check: @escaping @Sendable (String) throws -> Void) -> ConfigKey {
        ConfigKey(name,
                  apply: { config, text, _ in
                      let value = ConfigValueParser.string(text)
                      do { try check(value) } catch let problem as TLSSettingProblem {
                          throw ConfigValueProblem(problem.message)
                      }
                      config[keyPath: keyPath] = value
                  },
                  render: { $0[keyPath: keyPath] })
    }

    static func choice<Choice: ConfigEnum>(_ name: String, _ keyPath: WritableKeyPath<Config, Choice> & Sendable,
                                           origin: Origin = .pgbouncer, changeable: Bool = true) -> ConfigKey {
        ConfigKey(name, origin: origin, changeable: changeable,
                  apply: { config, text, _ in config[keyPath: keyPath] = try ConfigValueParser.choice(text, as: Choice.self) },
                  render: { $0[keyPath: keyPath].configName })
    }
}
