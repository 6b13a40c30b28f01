import XCTest
@testable import PGRelayCore

/// Loads config text as `pgrelay.ini`, with included files served from `files`.
func loadConfig(_ text: String, files: [String: String] = [:], path: String = "pgrelay.ini") throws -> LoadedConfig {
    try ConfigLoader.parse(text: text, path: path, includeResolver: { name in
        guard let contents = files[name] else {
            throw ConfigError(kind: .unreadableFile, location: ConfigLocation(file: name, line: nil), key: nil,
                              message: "cannot read file: no such file")
        }
        return contents
    })
}

/// `[pgrelay]` with `settings`, then a one-entry `[databases]`.
func mainSection(_ settings: String) -> String {
    "[pgrelay]\n\(settings)\n[databases]\napp = host=127.0.0.1\n"
}

/// The `ConfigError` thrown by `body`, or a test failure.
func configError(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
    do {
        _ = try body()
        XCTFail("expected a ConfigError", file: file, line: line)
    } catch let error as ConfigError {
        return error
    } catch {
        XCTFail("expected a ConfigError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Root of the repository (for proxy.conf.example and docs).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
