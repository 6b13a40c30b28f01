import FuzzSupport
import PGRelayCore

/// The INI reader and config loader. The input is up to four NUL-separated files: the main file
/// `/fuzz/pgrelay.ini`, then `a.ini`, `b.ini`, `c.ini` beside it for `%include` (any other path
/// is unreadable). The main file also goes through the auth_file parser.
/// Properties: the loader throws only `ConfigError`s, each naming a file of the run; the auth
/// file parser throws only `AuthFileError`s naming its line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let parts = fuzzParts(UnsafeRawBufferPointer(start: start, count: count), separator: 0, limit: 4)
        .map { String(decoding: $0, as: UTF8.self) }
    let includable = ["a.ini", "b.ini", "c.ini"]
    var files: [String: String] = [:]
    for (index, name) in includable.enumerated() where index + 1 < parts.count {
        files["/fuzz/" + name] = parts[index + 1]
    }
    let knownPaths = Set(files.keys).union(["/fuzz/pgrelay.ini"])
    do {
        _ = try ConfigLoader.parse(text: parts[0], path: "/fuzz/pgrelay.ini") { path in
            guard let text = files[path] else {
                throw ConfigError(kind: .unreadableFile, location: ConfigLocation(file: path, line: nil), key: nil,
                                  message: "no such file")
            }
            return text
        }
    } catch let error as ConfigError {
        fuzzRequire(error.location.map { knownPaths.contains($0.file) } ?? false, "error without a file of the run: \(error)")
    } catch {
        fuzzRequire(false, "unexpected error \(error)")
    }
    do {
        _ = try AuthFile.parse(text: parts[0], path: "/fuzz/userlist.txt")
    } catch let error as AuthFileError {
        fuzzRequire(error.path == "/fuzz/userlist.txt" && error.line >= 1, "auth file error without its line: \(error)")
    } catch {
        fuzzRequire(false, "auth file: unexpected error \(error)")
    }
    return 0
}

runLibFuzzer()
