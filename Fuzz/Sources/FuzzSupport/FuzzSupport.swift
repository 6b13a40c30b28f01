#if canImport(Glibc)
import Glibc
#endif
import CFuzzDriver
import PGWire

/// Helpers shared by the fuzz targets.

/// Stops the process with `message` when a property does not hold: libFuzzer reports the crash
/// and saves the input that caused it.
public func fuzzRequire(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                        file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

/// Splits fuzz input at a separator byte into at most `limit` parts (the last part keeps any
/// further separators), so one input can carry several messages or files.
public func fuzzParts(_ bytes: UnsafeRawBufferPointer, separator: UInt8, limit: Int) -> [[UInt8]] {
    var parts: [[UInt8]] = [[]]
    for byte in bytes {
        if byte == separator, parts.count < limit {
            parts.append([])
        } else {
            parts[parts.count - 1].append(byte)
        }
    }
    return parts
}

/// The bytes of a string, for comparisons that must not be fooled by String's Unicode equivalence.
public func utf8Bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Hands the process to libFuzzer, which calls the target's `LLVMFuzzerTestOneInput`; the last
/// statement of every target's main.swift.
public func runLibFuzzer() -> Never {
    exit(pgrelay_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv))
}

/// Runs `body`, which may throw only a `WireError` with one of `sqlStates` (how the proxy tells
/// a peer that its bytes were refused); anything else is a failure.
public func requireOnlyWireErrors(sqlStates: Set<String> = ["08P01", "0A000"], _ body: () throws -> Void) {
    do {
        try body()
    } catch let error as WireError {
        fuzzRequire(sqlStates.contains(error.sqlState), "\(error) has SQLSTATE \(error.sqlState)")
    } catch {
        fuzzRequire(false, "unexpected error \(error)")
    }
}
