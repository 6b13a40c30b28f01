import FuzzSupport
@testable import PGRelayServer

/// The admin console's parser, given a Query's text. Properties: it throws only `ConsoleError`s
/// with SQLSTATE 08P01, whose message echoes at most a bounded part of the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConsoleCommand(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    for statement in ConsoleCommandParser.statements(text) {
        fuzzRequire(!statement.isEmpty, "an empty statement was kept")
        do {
            let command = try ConsoleCommandParser.parse(statement)
            _ = command.tag
            _ = command.isReadOnly
        } catch let error as ConsoleError {
            fuzzRequire(error.sqlState == "08P01", "\(error) has SQLSTATE \(error.sqlState)")
            fuzzRequire(error.message.utf8.count <= 400, "error message of \(error.message.utf8.count) bytes")
        } catch {
            fuzzRequire(false, "unexpected error \(error)")
        }
    }
    return 0
}

runLibFuzzer()
