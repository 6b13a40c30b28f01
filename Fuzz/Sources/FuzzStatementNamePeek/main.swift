import FuzzSupport
import NIOCore
import PGWire

/// One frontend frame (type byte, then the body; the length word is made to fit), read by
/// `StatementNamePeek` and by the full decoder. Properties: the peek never says "unnamed
/// statement" for a message the decoder refuses or that names something else, and it sees every
/// Parse and Bind of the unnamed statement; the names and text it reads in place are the
/// decoder's; a Bind renamed in place reads back as the same Bind under the new name.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStatementNamePeek(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    guard let type = input.first else { return 0 }
    var bytes = ByteBuffer()
    bytes.writeInteger(type)
    bytes.writeInteger(Int32(count - 1 + 4))
    bytes.writeBytes(input.dropFirst())
    let frame = Frame(type: type, bytes: bytes)

    let target = StatementNamePeek.target(of: frame)
    let boundName = StatementNamePeek.boundStatementName(of: frame)
    let parseTexts = frame.bytes.withUnsafeReadableBytes { raw in
        StatementNamePeek.parseTexts(type: type, frameBytes: raw).map { ranges in
            (name: Array(raw[ranges.name]), query: Array(raw[ranges.query]))
        }
    }
    let decoded: FrontendMessage?
    do {
        decoded = try FrontendMessage.decode(frame)
    } catch {
        fuzzRequire(target == .other, "peek says unnamed statement for a message the decoder refuses: \(error)")
        return 0
    }
    switch decoded {
    case .parse(let parse)?:
        fuzzRequire((target == .unnamedStatement) == parse.name.isEmpty, "Parse \(parse.name.debugDescription): peek \(target)")
        if let parseTexts {
            fuzzRequire(String(decoding: parseTexts.name, as: UTF8.self) == parse.name
                && String(decoding: parseTexts.query, as: UTF8.self) == parse.query, "parseTexts differ from the decoder's")
        } else {
            fuzzRequire(false, "parseTexts found nothing in a valid Parse")
        }
    case .bind(let bind)?:
        fuzzRequire((target == .unnamedStatement) == bind.statement.isEmpty, "Bind of \(bind.statement.debugDescription): peek \(target)")
        fuzzRequire(boundName == bind.statement, "boundStatementName \(String(describing: boundName)) vs \(bind.statement)")
        // Renamed in place, the Bind reads back with the new name, the same portal and the same
        // parameter bytes, and its length word fits it.
        var renamed = ByteBuffer()
        frame.bytes.withUnsafeReadableBytes { raw in
            if let name = StatementNamePeek.boundStatement(frameBytes: raw) { renamed.writeBind(raw, renaming: name, to: "pgrelay_42") }
        }
        fuzzRequire(renamed.getInteger(at: 1, as: Int32.self).map(Int.init) == renamed.readableBytes - 1, "writeBind's length word")
        guard case .bind(let back)? = try? FrontendMessage.decode(Frame(type: type, bytes: renamed)) else {
            fuzzRequire(false, "writeBind's Bind does not decode")
            return 0
        }
        fuzzRequire(back.statement == "pgrelay_42" && back.portal == bind.portal && back.remainder == bind.remainder,
                    "writeBind's Bind reads back as \(back)")
    case .describe(let describe)?, .close(let describe)?:
        if target == .unnamedStatement {
            fuzzRequire(describe.kind == .statement && describe.name.isEmpty, "peek says unnamed statement for \(describe)")
        }
    default:
        fuzzRequire(target == .other, "peek says unnamed statement for \(String(describing: decoded))")
    }
    return 0
}

runLibFuzzer()
