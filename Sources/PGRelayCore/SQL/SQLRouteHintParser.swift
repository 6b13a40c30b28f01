/// Finds a routing hint in the comments that lead a text, before its first token:
/// `/* pgrelay:primary */`, `/*PGRelay : replica*/` or `-- pgrelay:primary`. The comment must
/// hold the hint alone (case-insensitive, blanks allowed around the colon), so comments that
/// merely mention pgrelay never route anything. The first hint wins.
enum SQLRouteHintParser {
    static func leadingHint(_ lexer: SQLLexer) -> RouteHint? {
        var probe = lexer
        while let token = probe.next(), token.kind.isTrivia {
            let body: Range<Int>
            switch token.kind {
            case .blockComment:
                guard token.isTerminated else { return nil }
                body = (token.start + 2)..<(token.end - 2)
            case .lineComment:
                body = (token.start + 2)..<token.end
            default:
                continue
            }
            if let hint = hint(in: probe.bytes, body) { return hint }
        }
        return nil
    }

    private static func hint(in bytes: UnsafeBufferPointer<UInt8>, _ body: Range<Int>) -> RouteHint? {
        var index = body.lowerBound
        func skipBlanks() {
            while index < body.upperBound, SQLLexer.isWhitespace(bytes[index]) { index += 1 }
        }
        func skip(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard body.upperBound - index >= count,
                  SQLLexer.equalsLowercased(bytes, from: index, word.utf8Start, count: count) else { return false }
            index += count
            return true
        }
        skipBlanks()
        guard skip("pgrelay") else { return nil }
        skipBlanks()
        guard skip(":") else { return nil }
        skipBlanks()
        let hint: RouteHint
        if skip("primary") {
            hint = .primary
        } else if skip("replica") {
            hint = .replica
        } else {
            return nil
        }
        skipBlanks()
        return index == body.upperBound ? hint : nil
    }
}
