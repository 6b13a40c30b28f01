/// The significant tokens (no whitespace, no comments) of one statement of a multi-statement
/// text. `next()` returns nil at the `;` that ends the statement (consuming it) or at the end
/// of the input; `lexer` then stands at the start of the following statement.
///
/// Like psql, it keeps the `;`s inside a SQL-standard function body together with their
/// statement: in `CREATE FUNCTION ... BEGIN ATOMIC ...; ...; END`, BEGIN opens a block that
/// END closes (CASE ... END nests inside it), and only a `;` outside blocks ends the statement.
struct SQLStatementTokens {
    /// The lexer, positioned after the last token returned.
    var lexer: SQLLexer
    private var isCreate = false
    private var isRoutine = false
    private var blockDepth = 0
    private var ended = false
    /// Number of significant tokens returned so far.
    private(set) var count = 0

    init(lexer: SQLLexer) {
        self.lexer = lexer
    }

    mutating func next() -> SQLToken? {
        guard !ended, let token = lexer.nextSignificant() else { return nil }
        if token.kind == .semicolon, blockDepth == 0 {
            ended = true  // stay at the end: never read into the next statement
            return nil
        }
        if count == 0 {
            isCreate = lexer.matches(token, "create")
        } else if isCreate, count <= 3, !isRoutine {
            // CREATE [OR REPLACE] {FUNCTION | PROCEDURE}
            isRoutine = lexer.matches(token, "function") || lexer.matches(token, "procedure")
        } else if isRoutine {
            if lexer.matches(token, "begin") {
                blockDepth += 1
            } else if blockDepth > 0, lexer.matches(token, "case") {
                blockDepth += 1
            } else if blockDepth > 0, lexer.matches(token, "end") {
                blockDepth -= 1
            }
        }
        count += 1
        return token
    }

    /// True when the next significant token is the keyword `word`, consuming it if so.
    mutating func skip(_ word: StaticString) -> Bool {
        var probe = self
        guard let token = probe.next(), lexer.matches(token, word) else { return false }
        self = probe
        return true
    }
}
