/// What one pass over a statement's tokens found anywhere in it, subqueries and CTEs included.
/// Keywords are only seen outside strings, comments and quoted identifiers, so `SELECT 'DELETE'`
/// and `SELECT "update" FROM t` find nothing.
struct SQLStatementFeatures {
    /// An unquoted INSERT, UPDATE, DELETE or MERGE: a data-modifying CTE, a DML body, or (in the
    /// rare case of a column named like that) a false alarm that only costs a replica read.
    var modifiesData = false
    /// FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE.
    var locksRows = false
    /// An unquoted INTO: SELECT ... INTO creates a table.
    var selectsInto = false
    /// TEMP or TEMPORARY.
    var mentionsTemporary = false
    /// The schema `pg_temp`.
    var mentionsTempSchema = false
    /// WITH HOLD (a cursor that outlives its transaction).
    var withHold = false
    /// A call of a built-in or configured write function.
    var callsWriteFunction = false
    /// A call of a function whose effect outlives the transaction (session advisory locks...).
    var callsSessionFunction = false

    /// Scans `tokens` to the end of their statement.
    static func scan(_ tokens: inout SQLStatementTokens, functions: SQLFunctionTable) -> SQLStatementFeatures {
        var features = SQLStatementFeatures()
        var previous: SQLToken?
        while let token = tokens.next() {
            let lexer = tokens.lexer
            if token.kind == .identifier {
                if lexer.matches(token, "insert") || lexer.matches(token, "update")
                    || lexer.matches(token, "delete") || lexer.matches(token, "merge") {
                    features.modifiesData = true
                } else if lexer.matches(token, "into") {
                    features.selectsInto = true
                } else if lexer.matches(token, "temp") || lexer.matches(token, "temporary") {
                    features.mentionsTemporary = true
                } else if lexer.matches(token, "pg_temp") {
                    features.mentionsTempSchema = true
                }
                if let previous {
                    if lexer.matches(previous, "for"),
                       lexer.matches(token, "share") || lexer.matches(token, "key") || lexer.matches(token, "no") {
                        features.locksRows = true
                    } else if lexer.matches(previous, "with"), lexer.matches(token, "hold") {
                        features.withHold = true
                    }
                }
            } else if token.kind == .openParen, let previous {
                features.noteCall(of: previous, lexer: lexer, functions: functions)
            }
            previous = token
        }
        return features
    }

    private mutating func noteCall(of name: SQLToken, lexer: SQLLexer, functions: SQLFunctionTable) {
        guard name.kind == .identifier || name.kind == .quotedIdentifier else { return }
        switch functions.kind(of: name, lexer: lexer) {
        case .write?:
            callsWriteFunction = true
        case .sessionState?:
            callsWriteFunction = true
            callsSessionFunction = true
        case nil:
            break
        }
    }

    /// True when a SELECT-like statement with these features cannot change anything.
    var allowsRead: Bool { !(modifiesData || locksRows || selectsInto || callsWriteFunction) }
}
