import FuzzSupport
import PGRelayCore

/// The SQL lexer, read/write classifier, fingerprint normalizer and shape hashes, on statement
/// text as it arrives in a Query or Parse (any bytes).
///
/// Properties:
/// - the lexer's tokens are non-empty, contiguous and cover every byte;
/// - a fingerprint holds no literal byte of the input. "Literal" is decided from the lexer's
///   tokens: the bytes of `string`, `dollarString` and `number` tokens, of unterminated quoted
///   identifiers (a misquoted secret) and of comments (dropped whole). A byte *value* counts as
///   leaked when it occurs in the fingerprint, occurs in the input only inside such tokens, and is
///   none of the bytes the normalizer writes itself (` $0-9;().` and, when the input is not
///   valid UTF-8, the replacement character's EF BF BD);
/// - a fingerprint is at most its maximum length plus the truncation marker;
/// - two texts of the same shape hash (`SQLShape.hash` or `SQLShape.plainHash`) have the same
///   fingerprint: the fingerprint cache looks fingerprints up by shape. The second text is the
///   input with every constant's content changed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSQL(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    let tokens = checkedTokens(input)
    _ = classifier.classify(utf8: input)
    _ = SessionStateMentions.mayMention(input)

    let fingerprint = SQLFingerprint.normalize(utf8: input)
    checkNoLiteralBytes(fingerprint, input: input, tokens: tokens)
    fuzzRequire(fingerprint.utf8.count <= SQLFingerprint.maximumLength + SQLFingerprint.truncationMarker.utf8.count,
                "fingerprint of \(fingerprint.utf8.count) bytes")
    if let first = input.first {
        let short = SQLFingerprint.normalize(utf8: input, maximumLength: Int(first % 64))
        checkNoLiteralBytes(short, input: input, tokens: tokens)
        fuzzRequire(short.utf8.count <= Int(first % 64) + SQLFingerprint.truncationMarker.utf8.count,
                    "short fingerprint of \(short.utf8.count) bytes")
    }

    let variant = withConstantsChanged(input, tokens: tokens)
    variant.withUnsafeBytes { other in
        let sameShape = SQLShape.hash(utf8: input) == SQLShape.hash(utf8: other)
        let plain = SQLShape.plainHash(utf8: input), otherPlain = SQLShape.plainHash(utf8: other)
        let samePlainShape = plain != nil && otherPlain != nil && plain!.hash == otherPlain!.hash
        if sameShape || samePlainShape {
            let otherFingerprint = SQLFingerprint.normalize(utf8: other)
            fuzzRequire(fingerprint == otherFingerprint,
                        "same shape, different fingerprints: \(fingerprint.debugDescription) vs \(otherFingerprint.debugDescription)")
        }
    }
    return 0
}

private let classifier = SQLClassifier(writeFunctions: ["audit", "public.log_event"])

private func checkedTokens(_ input: UnsafeRawBufferPointer) -> [SQLToken] {
    input.withMemoryRebound(to: UInt8.self) { bytes in
        var lexer = SQLLexer(bytes: bytes)
        var tokens: [SQLToken] = []
        var expectedStart = 0
        while let token = lexer.next() {
            fuzzRequire(token.start == expectedStart && token.end > token.start && token.end <= bytes.count,
                        "token \(token) after offset \(expectedStart) of \(bytes.count)")
            expectedStart = token.end
            tokens.append(token)
        }
        fuzzRequire(expectedStart == bytes.count, "tokens end at \(expectedStart) of \(bytes.count)")
        return tokens
    }
}

private func isMasked(_ token: SQLToken) -> Bool {
    switch token.kind {
    case .string, .dollarString, .number, .lineComment, .blockComment: return true
    case .quotedIdentifier: return !token.isTerminated
    default: return false
    }
}

private let writtenByNormalizer = Set(" $0123456789;().".utf8)

private func checkNoLiteralBytes(_ fingerprint: String, input: UnsafeRawBufferPointer, tokens: [SQLToken]) {
    var masked = [Bool](repeating: false, count: 256)
    var kept = [Bool](repeating: false, count: 256)
    for token in tokens where token.kind != .whitespace {
        for index in token.start..<token.end {
            if isMasked(token) { masked[Int(input[index])] = true } else { kept[Int(input[index])] = true }
        }
    }
    for byte in writtenByNormalizer { kept[Int(byte)] = true }
    if !input.elementsEqual(String(decoding: input, as: UTF8.self).utf8) {
        for byte: UInt8 in [0xEF, 0xBF, 0xBD] { kept[Int(byte)] = true }
    }
    for byte in fingerprint.utf8 where masked[Int(byte)] && !kept[Int(byte)] {
        fuzzRequire(false, "fingerprint \(fingerprint.debugDescription) holds byte \(byte) found only in literals")
    }
}

/// The input with the content of every terminated constant replaced: numbers by `7`, strings by
/// `x` between their quotes, dollar-quoted strings by `$$x$$`.
private func withConstantsChanged(_ input: UnsafeRawBufferPointer, tokens: [SQLToken]) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(input.count)
    for token in tokens {
        let bytes = input[token.start..<token.end]
        switch token.kind {
        case .number:
            output.append(UInt8(ascii: "7"))
        case .string where token.isTerminated:
            guard let quote = bytes.firstIndex(of: UInt8(ascii: "'")) else { output.append(contentsOf: bytes); continue }
            output.append(contentsOf: input[token.start...quote])
            output.append(contentsOf: Array("x'".utf8))
        case .dollarString where token.isTerminated:
            output.append(contentsOf: Array("$$x$$".utf8))
        default:
            output.append(contentsOf: bytes)
        }
    }
    return output
}

runLibFuzzer()
