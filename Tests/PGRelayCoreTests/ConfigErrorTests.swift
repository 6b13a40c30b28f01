import XCTest
@testable import PGRelayCore

final class ConfigErrorTests: XCTestCase {
    private struct Case {
        let name: String
        let text: String
        var files: [String: String] = [:]
        let kind: ConfigError.Kind
        let description: String
    }

    private let cases: [Case] = [
        Case(name: "bad integer", text: mainSection("default_pool_size = abc"), kind: .invalidValue,
             description: #"pgrelay.ini:2: default_pool_size: invalid integer "abc""#),
        Case(name: "integer with junk", text: mainSection("default_pool_size = 20 connections"), kind: .invalidValue,
             description: #"pgrelay.ini:2: default_pool_size: invalid integer "20 connections""#),
        Case(name: "port out of range", text: mainSection("listen_port = 70000"), kind: .invalidValue,
             description: "pgrelay.ini:2: listen_port: 70000 is out of range (1..65535)"),
        Case(name: "workers out of range", text: mainSection("workers = 2000"), kind: .invalidValue,
             description: "pgrelay.ini:2: workers: 2000 is out of range (0..1024)"),
        Case(name: "negative size", text: mainSection("default_pool_size = -1"), kind: .invalidValue,
             description: "pgrelay.ini:2: default_pool_size: -1 is out of range (0..2147483647)"),
        Case(name: "bad enum", text: mainSection("pool_mode = sometimes"), kind: .invalidValue,
             description: #"pgrelay.ini:2: pool_mode: invalid value "sometimes" (expected session | transaction | statement)"#),
        Case(name: "bad bool", text: mainSection("read_write_split = maybe"), kind: .invalidValue,
             description: #"pgrelay.ini:2: read_write_split: invalid boolean "maybe" (use on/off, yes/no, true/false, 1/0)"#),
        Case(name: "time with unit", text: mainSection("query_timeout = 5s"), kind: .invalidValue,
             description: #"pgrelay.ini:2: query_timeout: invalid number "5s" (write plain seconds, without a unit)"#),
        Case(name: "negative time", text: mainSection("query_timeout = -1"), kind: .invalidValue,
             description: "pgrelay.ini:2: query_timeout: -1 is out of range (0..1000000000)"),
        Case(name: "ratio above one", text: mainSection("health_unhealthy_ratio = 1.5"), kind: .invalidValue,
             description: "pgrelay.ini:2: health_unhealthy_ratio: 1.5 is out of range (0..1)"),
        Case(name: "degraded above unhealthy",
             text: mainSection("health_degraded_ratio = 0.2\nhealth_unhealthy_ratio = 0.1"), kind: .inconsistent,
             description: "pgrelay.ini:2: health_degraded_ratio: 0.2 is above health_unhealthy_ratio (0.1)"),
        Case(name: "admin port equals listen port", text: mainSection("admin_port = 6432"), kind: .inconsistent,
             description: "pgrelay.ini:2: admin_port: 6432 is also listen_port"),
        Case(name: "unsupported auth type", text: mainSection("auth_type = hba"), kind: .invalidValue,
             description: #"pgrelay.ini:2: auth_type: auth_type "hba" is not supported by pgrelay (use trust | any | plain | md5 | scram-sha-256 | peer | cert)"#),
        Case(name: "bad octal mode", text: mainSection("unix_socket_mode = 0999"), kind: .invalidValue,
             description: #"pgrelay.ini:2: unix_socket_mode: invalid octal file mode "0999""#),
        Case(name: "auth_dbname reserved", text: mainSection("auth_dbname = pgbouncer"), kind: .invalidValue,
             description: #"pgrelay.ini:2: auth_dbname: cannot use the reserved "pgbouncer" database as an auth_dbname"#),
        Case(name: "replica port not a number", text: "[pgrelay]\n[databases]\napp = host=db1 replicas=db2:abc\n",
             kind: .invalidValue,
             description: #"pgrelay.ini:3: app: replicas: invalid port "abc" in "db2:abc" (1..65535)"#),
        Case(name: "replica empty item", text: "[pgrelay]\n[databases]\napp = host=db1 replicas=db2,,db3\n",
             kind: .invalidValue, description: "pgrelay.ini:3: app: replicas: empty host in address list"),
        Case(name: "replica unclosed bracket", text: "[pgrelay]\n[databases]\napp = host=db1 replicas=[::1:5433\n",
             kind: .invalidValue,
             description: #"pgrelay.ini:3: app: replicas: invalid address "[::1:5433": missing "]""#),
        Case(name: "replica port out of range", text: "[pgrelay]\n[databases]\napp = host=db1 replicas=[::1]:0\n",
             kind: .invalidValue,
             description: #"pgrelay.ini:3: app: replicas: invalid port "0" in "[::1]:0" (1..65535)"#),
        Case(name: "database port", text: "[pgrelay]\n[databases]\napp = host=db1 port=x\n", kind: .invalidValue,
             description: #"pgrelay.ini:3: app: port: invalid integer "x""#),
        Case(name: "database pool size", text: "[pgrelay]\n[databases]\napp = host=db1 pool_size=-3\n",
             kind: .invalidValue, description: "pgrelay.ini:3: app: pool_size: -3 is out of range (0..2147483647)"),
        Case(name: "database pool mode", text: "[pgrelay]\n[databases]\napp = host=db1 pool_mode=never\n",
             kind: .invalidValue,
             description: #"pgrelay.ini:3: app: pool_mode: invalid value "never" (expected session | transaction | statement)"#),
        Case(name: "database unknown option", text: "[pgrelay]\n[databases]\napp = host=db1 colour=blue\n",
             kind: .unknownOption,
             description: #"pgrelay.ini:3: app: unknown option "colour" (known: \#(DatabaseConfig.optionNames.joined(separator: ", ")))"#),
        Case(name: "database unterminated quote", text: "[pgrelay]\n[databases]\napp = host=db1 password='abc\n",
             kind: .invalidValue, description: "pgrelay.ini:3: app: unterminated quoted value for password"),
        Case(name: "database empty value", text: "[pgrelay]\n[databases]\napp = host=db1 port=\n",
             kind: .invalidValue, description: "pgrelay.ini:3: app: empty value for port"),
        Case(name: "database not key=value", text: "[pgrelay]\n[databases]\napp = localhost\n",
             kind: .invalidValue, description: #"pgrelay.ini:3: app: expected key=value, found "localhost""#),
        Case(name: "database reserved name", text: "[pgrelay]\n[databases]\npgbouncer = host=db1\n",
             kind: .invalidValue,
             description: #"pgrelay.ini:3: pgbouncer: database name "pgbouncer" is reserved for the admin console"#),
        Case(name: "no host and no unix socket", text: "[pgrelay]\nunix_socket_dir =\n[databases]\napp = dbname=x\n",
             kind: .invalidValue,
             description: "pgrelay.ini:4: app: no host= and unix_socket_dir is empty, so there is nowhere to connect"),
        Case(name: "user option", text: "[pgrelay]\n[databases]\napp = host=db1\n[users]\nbob = pool_size=many\n",
             kind: .invalidValue, description: #"pgrelay.ini:5: bob: pool_size: invalid integer "many""#),
        Case(name: "user unknown option", text: "[pgrelay]\n[databases]\napp = host=db1\n[users]\nbob = host=x\n",
             kind: .unknownOption,
             description: #"pgrelay.ini:5: bob: unknown option "host" (known: \#(UserConfig.optionNames.joined(separator: ", ")))"#),
        Case(name: "syntax", text: "[pgrelay]\nlisten_port 6432\n[databases]\napp = host=db1\n", kind: .syntax,
             description: #"pgrelay.ini:2: expected "key = value", a [section] or a comment"#),
        Case(name: "unclosed section", text: "[pgrelay\n", kind: .syntax,
             description: #"pgrelay.ini:1: section header without "]""#),
        Case(name: "text after section", text: "[pgrelay] extra\n", kind: .syntax,
             description: "pgrelay.ini:1: unexpected text after section header"),
        Case(name: "empty section", text: "[ ]\n", kind: .syntax, description: "pgrelay.ini:1: empty section name"),
        Case(name: "unterminated quoted key", text: "[pgrelay]\n[databases]\n'app = host=h\n", kind: .syntax,
             description: "pgrelay.ini:3: unterminated quoted key"),
        Case(name: "quoted key without equals", text: "[pgrelay]\n[databases]\n'app' host=h\n", kind: .syntax,
             description: #"pgrelay.ini:3: app: expected "=" after the key"#),
        Case(name: "key with blanks", text: "[pgrelay]\nlisten port = 1\n", kind: .syntax,
             description: #"pgrelay.ini:2: expected "key = value", a [section] or a comment"#),
        Case(name: "include without file", text: "[pgrelay]\n%include   ; nothing\n", kind: .syntax,
             description: "pgrelay.ini:2: %include needs a file name"),
        Case(name: "long database name", text: "[pgrelay]\n[databases]\n\(String(repeating: "d", count: 64)) = host=h\n",
             kind: .invalidValue,
             description: "pgrelay.ini:3: \(String(repeating: "d", count: 40))...: name longer than 63 bytes"),
        Case(name: "unknown section", text: "[pgrelay]\n[databsaes]\n", kind: .unknownSection,
             description: "pgrelay.ini:2: unknown section [databsaes] (expected [pgrelay] or [pgbouncer], [databases], [users], [peers])"),
        Case(name: "setting before section", text: "listen_port = 1\n[pgrelay]\n", kind: .syntax,
             description: "pgrelay.ini:1: listen_port: setting before any [section]"),
        Case(name: "unknown directive", text: "%inclde other.ini\n", kind: .syntax,
             description: #"pgrelay.ini:1: unknown directive "%inclde" (only %include is known)"#),
        Case(name: "no main section", text: "[databases]\napp = host=db1\n", kind: .inconsistent,
             description: "pgrelay.ini: no [pgrelay] (or [pgbouncer]) section"),
        Case(name: "include loop", text: "[pgrelay]\n%include a.ini\n", files: ["a.ini": "%include pgrelay.ini\n"],
             kind: .includeLoop, description: #"a.ini:1: %include of "pgrelay.ini" includes itself"#),
        Case(name: "include missing", text: "[pgrelay]\n%include conf.d/missing.ini\n", kind: .unreadableFile,
             description: #"pgrelay.ini:2: cannot read included file "conf.d/missing.ini": cannot read file: no such file"#),
        Case(name: "error inside include", text: "[pgrelay]\n%include conf.d/pool.ini\n",
             files: ["conf.d/pool.ini": "; pools\nmin_pool_size = lots\n"], kind: .invalidValue,
             description: #"conf.d/pool.ini:2: min_pool_size: invalid integer "lots""#),
    ]

    func testEveryErrorKindNamesFileLineAndKey() {
        for testCase in cases {
            guard let error = configError({ try loadConfig(testCase.text, files: testCase.files) }) else {
                XCTFail("\(testCase.name): loaded without error")
                continue
            }
            XCTAssertEqual(error.description, testCase.description, testCase.name)
            XCTAssertEqual(error.kind, testCase.kind, testCase.name)
        }
    }

    func testIncludeDepthIsBounded() {
        var files: [String: String] = [:]
        for level in 0..<20 { files["level\(level).ini"] = "%include level\(level + 1).ini\n" }
        let error = configError { try loadConfig("[pgrelay]\n%include level0.ini\n", files: files) }
        XCTAssertEqual(error?.kind, .includeLoop)
        XCTAssertEqual(error?.description, "level8.ini:1: %include nested more than 10 levels deep")
    }

    func testOverlongLineIsRefused() {
        let text = "[pgrelay]\nauth_query = " + String(repeating: "x", count: 70_000) + "\n"
        XCTAssertEqual(configError { try loadConfig(text) }?.description, "pgrelay.ini:2: line longer than 65536 bytes")
    }

    func testErrorMessagesDoNotLeakPasswords() {
        let error = configError { try loadConfig("[pgrelay]\n[databases]\napp = host=db1 password=hunter2 port=x\n") }
        XCTAssertEqual(error?.description.contains("hunter2"), false)
    }

    func testMissingFileOnDisk() {
        let error = configError { try ConfigLoader.load(path: "/nonexistent/pgrelay-test.ini") }
        XCTAssertEqual(error?.kind, .unreadableFile)
        XCTAssertEqual(error?.file, "/nonexistent/pgrelay-test.ini")
    }
}
