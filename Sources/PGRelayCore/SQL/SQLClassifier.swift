/// Decides, from the text alone, whether a Query may run on a replica, and which transaction
/// and session facts it carries (see INTERFACE.md, "Routing rules", and docs/routing.md).
///
/// Errs towards the primary: when a statement is not recognisably a read, it is a write.
/// It cannot know what user-defined functions do; list those in `write_functions`.
/// One pass of a byte lexer per statement plus a few tokens of look-ahead; no allocation
/// unless the text holds SET, RESET or DEALLOCATE.
public struct SQLClassifier: Sendable {
    /// Built-in and configured write functions.
    private let functions: SQLFunctionTable

    /// Creates a classifier that also treats calls of `writeFunctions` as writes. Names compare
    /// case-insensitively on their last component: `public.audit` matches `audit(` and
    /// `public.audit(` (search_path may resolve either to it).
    public init(writeFunctions: [String] = []) {
        functions = SQLFunctionTable(configured: writeFunctions)
    }

    /// Classifies every statement of `sql` and merges the results.
    public func classify(_ sql: String) -> SQLClassification {
        SQLLexer.withLexer(over: sql) { classify(lexer: $0) }
    }

    /// Classifies statement text given as bytes (e.g. a Query message body without its NUL,
    /// straight from a ByteBuffer), without making a String.
    public func classify(utf8 bytes: UnsafeRawBufferPointer) -> SQLClassification {
        bytes.withMemoryRebound(to: UInt8.self) { classify(lexer: SQLLexer(bytes: $0)) }
    }

    private func classify(lexer: SQLLexer) -> SQLClassification {
        var result = SQLClassification()
        result.hint = SQLRouteHintParser.leadingHint(lexer)
        var cursor = lexer
        while true {
            let statementStart = cursor
            var scan = SQLStatementTokens(lexer: cursor)
            let features = SQLStatementFeatures.scan(&scan, functions: functions)
            cursor = scan.lexer
            if scan.count > 0 {
                var head = SQLStatementTokens(lexer: statementStart)
                classifyStatement(&head, features: features, into: &result)
                result.statementCount += 1
            }
            if cursor.position >= cursor.bytes.count { break }
        }
        return result
    }

    private enum Verdict {
        case read, write, neutral
    }

    private func classifyStatement(
        _ head: inout SQLStatementTokens, features: SQLStatementFeatures, into result: inout SQLClassification
    ) {
        let verdict = statementVerdict(&head, features: features, into: &result)
        switch verdict {
        case .read: result.facts.insert(.containsRead)
        case .write: result.facts.insert(.containsWrite)
        case .neutral: break
        }
        if features.callsSessionFunction
            || (features.selectsInto && (features.mentionsTemporary || features.mentionsTempSchema))
            || features.withHold {
            result.facts.insert(.setsSessionState)
        }
    }

    private func statementVerdict(
        _ head: inout SQLStatementTokens, features: SQLStatementFeatures, into result: inout SQLClassification
    ) -> Verdict {
        guard var first = head.next() else { return .neutral }
        let lexer = head.lexer
        if first.kind == .openParen {
            // `(SELECT 1) UNION (SELECT 2)`: only a query can be parenthesised
            while first.kind == .openParen {
                guard let next = head.next() else { return .write }
                first = next
            }
            return isQueryKeyword(first, lexer) && features.allowsRead ? .read : .write
        }
        if isQueryKeyword(first, lexer) {
            return features.allowsRead ? .read : .write
        }
        guard first.kind == .identifier else { return .write }
        if lexer.matches(first, "show") { return .read }
        if lexer.matches(first, "explain") { return explainVerdict(&head, features: features) }
        if lexer.matches(first, "copy") { return copyVerdict(&head, features: features) }
        if lexer.matches(first, "begin") {
            _ = head.skip("work") || head.skip("transaction")
            return beginVerdict(&head, into: &result)
        }
        if lexer.matches(first, "start") {
            guard head.skip("transaction") else { return .write }
            return beginVerdict(&head, into: &result)
        }
        if lexer.matches(first, "commit") || lexer.matches(first, "end") || lexer.matches(first, "abort") {
            return endVerdict(&head, into: &result)
        }
        if lexer.matches(first, "rollback") {
            var probe = head
            _ = probe.skip("work") || probe.skip("transaction")
            if probe.skip("to") { return .neutral }  // ROLLBACK TO SAVEPOINT keeps the transaction
            return endVerdict(&head, into: &result)
        }
        if lexer.matches(first, "savepoint") || lexer.matches(first, "release") { return .neutral }
        if lexer.matches(first, "set") { return setVerdict(&head, into: &result) }
        if lexer.matches(first, "reset") {
            result.facts.formUnion([.setsSessionState, .isReset])
            result.parameterName = parameterName(&head)
            return .write
        }
        if lexer.matches(first, "prepare") {
            if head.skip("transaction") {
                result.facts.insert(.endsTransaction)  // the transaction leaves the session
            } else {
                result.facts.insert(.setsSessionState)
            }
            return .write
        }
        if lexer.matches(first, "listen") {
            result.facts.formUnion([.setsSessionState, .isListen])
            return .write
        }
        if lexer.matches(first, "load") {
            result.facts.insert(.setsSessionState)
            return .write
        }
        if lexer.matches(first, "discard") {
            if head.skip("all") { result.facts.insert(.isDiscardAll) }
            return .write
        }
        if lexer.matches(first, "deallocate") {
            result.deallocate = deallocateTarget(&head)
            return .write
        }
        if lexer.matches(first, "create") {
            if createsTemporaryObject(&head) || features.mentionsTempSchema {
                result.facts.insert(.setsSessionState)
            }
            return .write
        }
        return .write
    }

    /// SELECT, VALUES, TABLE and WITH start queries that read unless their features say otherwise.
    private func isQueryKeyword(_ token: SQLToken, _ lexer: SQLLexer) -> Bool {
        lexer.matches(token, "select") || lexer.matches(token, "values")
            || lexer.matches(token, "table") || lexer.matches(token, "with")
    }

    /// EXPLAIN without ANALYZE plans but never executes, so any explainable statement is a read;
    /// EXPLAIN ANALYZE runs its statement, which then decides. EXPLAIN EXECUTE (a prepared
    /// statement lives on one server) and unknown forms go to the primary.
    private func explainVerdict(_ head: inout SQLStatementTokens, features: SQLStatementFeatures) -> Verdict {
        var analyze = false
        guard var token = head.next() else { return .write }
        var lexer = head.lexer
        if token.kind == .openParen {
            analyze = explainOptionsRequestAnalyze(&head)
            guard let next = head.next() else { return .write }
            token = next
        } else {
            while lexer.matches(token, "analyze") || lexer.matches(token, "analyse") || lexer.matches(token, "verbose") {
                if !lexer.matches(token, "verbose") { analyze = true }
                guard let next = head.next() else { return .write }
                token = next
            }
        }
        lexer = head.lexer
        if token.kind == .openParen || isQueryKeyword(token, lexer) {
            return analyze && !features.allowsRead ? .write : .read
        }
        if lexer.matches(token, "insert") || lexer.matches(token, "update")
            || lexer.matches(token, "delete") || lexer.matches(token, "merge") {
            return analyze ? .write : .read
        }
        return .write
    }

    /// Reads `( option [value], ... )` after EXPLAIN; ANALYZE counts unless its value is false.
    private func explainOptionsRequestAnalyze(_ head: inout SQLStatementTokens) -> Bool {
        var analyze = false
        var depth = 1
        var previousWasAnalyze = false
        while depth > 0, let token = head.next() {
            let lexer = head.lexer
            if token.kind == .openParen { depth += 1 }
            if token.kind == .closeParen { depth -= 1 }
            if previousWasAnalyze, isFalseOptionValue(token, lexer) { analyze = false }
            previousWasAnalyze = lexer.matches(token, "analyze") || lexer.matches(token, "analyse")
            if previousWasAnalyze { analyze = true }
        }
        return analyze
    }

    private func isFalseOptionValue(_ token: SQLToken, _ lexer: SQLLexer) -> Bool {
        switch token.kind {
        case .identifier:
            return lexer.matches(token, "false") || lexer.matches(token, "off") || lexer.matches(token, "no")
                || lexer.matches(token, "f") || lexer.matches(token, "n")
        case .number:
            return token.length == 1 && lexer.bytes[token.start] == UInt8(ascii: "0")
        case .string:
            let text = lexer.text(of: token).lowercased()
            return ["'false'", "'off'", "'no'", "'f'", "'n'", "'0'"].contains(text)
        default:
            return false
        }
    }

    /// COPY ... TO STDOUT reads (its query, if any, decides); COPY ... FROM, and COPY TO a
    /// server file or program, go to the primary.
    private func copyVerdict(_ head: inout SQLStatementTokens, features: SQLStatementFeatures) -> Verdict {
        var depth = 0
        while let token = head.next() {
            let lexer = head.lexer
            switch token.kind {
            case .openParen: depth += 1
            case .closeParen: depth -= 1
            case .identifier where depth == 0:
                if lexer.matches(token, "from") { return .write }
                if lexer.matches(token, "to") {
                    guard head.skip("stdout") else { return .write }
                    return features.allowsRead ? .read : .write
                }
            default: break
            }
        }
        return .write
    }

    /// BEGIN / START TRANSACTION with their modes.
    private func beginVerdict(_ head: inout SQLStatementTokens, into result: inout SQLClassification) -> Verdict {
        result.facts.insert(.beginsTransaction)
        if declaresReadOnly(&head) {
            result.facts.insert(.readOnlyTransaction)
            return .read
        }
        return .write
    }

    /// True when transaction modes say READ ONLY and never READ WRITE.
    private func declaresReadOnly(_ head: inout SQLStatementTokens) -> Bool {
        var readOnly = false
        var readWrite = false
        var previousWasRead = false
        while let token = head.next() {
            let lexer = head.lexer
            if previousWasRead {
                if lexer.matches(token, "only") { readOnly = true }
                if lexer.matches(token, "write") { readWrite = true }
            }
            previousWasRead = lexer.matches(token, "read")
        }
        return readOnly && !readWrite
    }

    /// COMMIT, END, ABORT, ROLLBACK; COMMIT/ROLLBACK PREPARED act on another transaction.
    private func endVerdict(_ head: inout SQLStatementTokens, into result: inout SQLClassification) -> Verdict {
        if head.skip("prepared") { return .write }
        result.facts.insert(.endsTransaction)
        var previousWasAnd = false
        var previousWasNo = false
        while let token = head.next() {
            let lexer = head.lexer
            if previousWasAnd, lexer.matches(token, "chain"), !previousWasNo {
                result.facts.insert(.beginsTransaction)
            }
            if lexer.matches(token, "and") { previousWasAnd = true; previousWasNo = false }
            else if previousWasAnd, lexer.matches(token, "no") { previousWasNo = true }
            else if !lexer.matches(token, "chain") { previousWasAnd = false; previousWasNo = false }
        }
        return .neutral
    }

    /// SET forms. Transaction-scoped ones (SET LOCAL, SET TRANSACTION, SET CONSTRAINTS) are
    /// neutral; session-scoped ones need the primary and pin the session.
    private func setVerdict(_ head: inout SQLStatementTokens, into result: inout SQLClassification) -> Verdict {
        var isLocal = false
        if head.skip("local") {
            isLocal = true
        } else {
            var probe = head
            if probe.skip("session"), !probe.skip("authorization"), !probe.skip("characteristics") {
                head = probe  // SESSION was the scope, not part of the parameter
            }
        }
        if head.skip("transaction") {
            if declaresReadOnly(&head) { result.facts.insert(.readOnlyTransaction) }
            return .neutral
        }
        if head.skip("constraints") || isLocal { return .neutral }
        result.facts.insert(.setsSessionState)
        if head.skip("session") {
            if head.skip("characteristics") { return .write }
            _ = head.skip("authorization")
            result.facts.insert(.isSet)
            result.parameterName = "session_authorization"
            return .write
        }
        result.facts.insert(.isSet)
        result.parameterName = parameterName(&head)
        return .write
    }

    /// The parameter a SET or RESET names, mapping the special syntaxes to their parameters.
    private func parameterName(_ head: inout SQLStatementTokens) -> String? {
        if head.skip("time") {
            _ = head.skip("zone")
            return "timezone"
        }
        if head.skip("names") { return "client_encoding" }
        if head.skip("schema") { return "search_path" }
        if head.skip("xml") {
            _ = head.skip("option")
            return "xmloption"
        }
        if head.skip("session") {
            _ = head.skip("authorization")
            return "session_authorization"
        }
        var name = ""
        var components = 0
        var probe = head
        while let token = probe.next(), let part = probe.lexer.identifierName(of: token) {
            components += 1
            guard components <= Self.maximumNameComponents else { return nil }
            name += part
            head = probe
            guard let dot = probe.next(), dot.kind == .dot else { break }
            name += "."
        }
        return name.isEmpty || name.hasSuffix(".") ? nil : name
    }

    /// Bounds a dotted parameter name (`a.b.c`), so its size never depends on the input.
    private static let maximumNameComponents = 8

    private func deallocateTarget(_ head: inout SQLStatementTokens) -> DeallocateTarget {
        _ = head.skip("prepare")
        if head.skip("all") { return .all }
        guard let token = head.next(), let name = head.lexer.identifierName(of: token) else { return .none }
        return .name(name)
    }

    /// CREATE [OR REPLACE] [GLOBAL | LOCAL] {TEMP | TEMPORARY} ...
    private func createsTemporaryObject(_ head: inout SQLStatementTokens) -> Bool {
        if head.skip("or") { _ = head.skip("replace") }
        _ = head.skip("global") || head.skip("local")
        return head.skip("temp") || head.skip("temporary")
    }
}
