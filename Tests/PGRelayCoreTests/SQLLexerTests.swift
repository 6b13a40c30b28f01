import XCTest
@testable import PGRelayCore

final class SQLLexerTests: XCTestCase {
    /// All tokens of `sql` as (kind, text, terminated).
    private func lex(_ sql: String) -> [(SQLTokenKind, String, Bool)] {
        SQLLexer.withLexer(over: sql) { lexer in
            var tokens: [(SQLTokenKind, String, Bool)] = []
            while let token = lexer.next() {
                tokens.append((token.kind, lexer.text(of: token), token.isTerminated))
            }
            return tokens
        }
    }

    /// Significant tokens of `sql` as (kind, text).
    private func significant(_ sql: String) -> [String] {
        lex(sql).filter { !$0.0.isTrivia }.map { "\($0.0):\($0.1)" }
    }

    func testEveryByteBelongsToOneToken() {
        let inputs = [
            "SELECT 1", "select $$a$$ || E'\\'' || U&'\\0041' -- c\n/* x /* y */ z */;",
            "'unterminated", "/* open", "$tag$ open", "\"open", "E'\\", "$", "x$$y", "\u{00e9}t\u{00e9} = 'ü'",
            "", "   ", "1.2.3..4e5e", "0xFFg 0o17 0b101_1 1_000", "a::int[] @> b", "--", "/*/", "\\ \u{0}",
        ]
        for input in inputs {
            let tokens = lex(input)
            XCTAssertEqual(tokens.map { $0.1 }.joined(), input, "tokens must tile \(input.debugDescription)")
        }
    }

    func testTokenKinds() {
        let cases: [(String, [String])] = [
            ("SELECT a, b FROM t;", ["identifier:SELECT", "identifier:a", "comma:,", "identifier:b", "identifier:FROM", "identifier:t", "semicolon:;"]),
            ("'it''s'", ["string:'it''s'"]),
            ("'a\\' c'", ["string:'a\\'", "identifier:c", "string:'"]),
            ("'a' b'1'", ["string:'a'", "string:b'1'"]),
            ("E'a\\' b'", ["string:E'a\\' b'"]),
            ("e'\\\\'x", ["string:e'\\\\'", "identifier:x"]),
            ("N'abc'", ["string:N'abc'"]),
            ("B'1010' X'ff'", ["string:B'1010'", "string:X'ff'"]),
            ("U&'d\\0061t' U&\"d\\0061t\"", ["string:U&'d\\0061t'", "quotedIdentifier:U&\"d\\0061t\""]),
            ("\"My \"\"Table\"\"\"", ["quotedIdentifier:\"My \"\"Table\"\"\""]),
            ("$$ a ' b $$", ["dollarString:$$ a ' b $$"]),
            ("$fn$ $$ inner $$ $fn$", ["dollarString:$fn$ $$ inner $$ $fn$"]),
            ("$a$ x $b$ y $a$", ["dollarString:$a$ x $b$ y $a$"]),
            ("$1 $23", ["parameter:$1", "parameter:$23"]),
            ("a$1", ["identifier:a$1"]),
            ("foo$$bar", ["identifier:foo$$bar"]),
            ("42 3.14 .5 1e10 2.5E-3 1_000 0x1F 0o7 0b11", ["number:42", "number:3.14", "number:.5", "number:1e10", "number:2.5E-3", "number:1_000", "number:0x1F", "number:0o7", "number:0b11"]),
            ("1..5", ["number:1", "dot:.", "number:.5"]),
            ("a.b", ["identifier:a", "dot:.", "identifier:b"]),
            ("x::int", ["identifier:x", "operator:::", "identifier:int"]),
            ("a := 1", ["identifier:a", "operator::=", "number:1"]),
            ("a=-1", ["identifier:a", "operator:=", "operator:-", "number:1"]),
            ("a @- b", ["identifier:a", "operator:@-", "identifier:b"]),
            ("a->>'k'", ["identifier:a", "operator:->>", "string:'k'"]),
            ("a<>b", ["identifier:a", "operator:<>", "identifier:b"]),
            ("a*/*c*/b", ["identifier:a", "operator:*", "identifier:b"]),
            ("a+--c\nb", ["identifier:a", "operator:+", "identifier:b"]),
            ("arr[1:2]", ["identifier:arr", "openBracket:[", "number:1", "operator::", "number:2", "closeBracket:]"]),
            ("f(x)", ["identifier:f", "openParen:(", "identifier:x", "closeParen:)"]),
            ("$ x", ["other:$", "identifier:x"]),
            ("$1abc", ["parameter:$1", "identifier:abc"]),
            ("tést", ["identifier:tést"]),
            ("ex'1'", ["identifier:ex", "string:'1'"]),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(significant(input), expected, input)
        }
    }

    func testComments() {
        XCTAssertEqual(lex("/* a /* b */ c */x").map { $0.0 }, [.blockComment, .identifier])
        XCTAssertEqual(lex("-- a\nx").map { $0.0 }, [.lineComment, .whitespace, .identifier])
        XCTAssertEqual(lex("-- a\r\nx").map { $0.0 }, [.lineComment, .whitespace, .identifier])
        XCTAssertEqual(lex("/**/").map { $0.0 }, [.blockComment])
    }

    func testUnterminatedInputRunsToTheEnd() {
        let cases: [(String, SQLTokenKind)] = [
            ("'abc", .string), ("E'abc\\'", .string), ("$$abc", .dollarString), ("$t$abc$t", .dollarString),
            ("\"abc", .quotedIdentifier), ("/* a /* b */", .blockComment), ("U&'x", .string), ("B'1", .string),
        ]
        for (input, kind) in cases {
            let tokens = lex(input)
            XCTAssertEqual(tokens.count, 1, input)
            XCTAssertEqual(tokens.first?.0, kind, input)
            XCTAssertEqual(tokens.first?.2, false, input)
        }
    }

    func testKeywordMatchingIsCaseInsensitiveAndExact() {
        SQLLexer.withLexer(over: "SeLeCt select selects \"select\"") { lexer in
            var matches: [Bool] = []
            while let token = lexer.nextSignificant() { matches.append(lexer.matches(token, "select")) }
            XCTAssertEqual(matches, [true, true, false, false])
        }
    }

    func testIdentifierNames() {
        SQLLexer.withLexer(over: "MyName \"My \"\"Name\"\"\" 'str'") { lexer in
            var names: [String?] = []
            while let token = lexer.nextSignificant() { names.append(lexer.identifierName(of: token)) }
            XCTAssertEqual(names, ["myname", "My \"Name\"", nil])
        }
    }

    func testLargeInputLexesWithoutRecursionOrCrash() {
        let nested = String(repeating: "/*", count: 50_000) + String(repeating: "*/", count: 50_000) + "SELECT 1"
        XCTAssertEqual(significant(nested), ["identifier:SELECT", "number:1"])
        let longString = "'" + String(repeating: "x", count: 1_000_000)
        XCTAssertEqual(lex(longString).count, 1)
    }
}
