import Foundation
import NIOCore
import XCTest
@testable import PGRelayCore

final class TracingContextTests: XCTestCase {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    static let validID = TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736)

    private func parse(_ text: String) -> TraceParent? {
        var copy = text
        return copy.withUTF8 { TraceParent.parse(utf8: UnsafeRawBufferPointer($0)) }
    }

    func testTraceParentValues() {
        let cases: [(String, (high: UInt64, parent: UInt64, flags: UInt8)?, String)] = [
            (Self.valid, (0x4bf9_2f35_77b3_4da6, 0x00f0_67aa_0ba9_02b7, 1), "sampled"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", (0x4bf9_2f35_77b3_4da6, 0x00f0_67aa_0ba9_02b7, 0), "not sampled"),
            ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-extra", (0x4bf9_2f35_77b3_4da6, 0x00f0_67aa_0ba9_02b7, 3),
             "a later version may carry more after a dash"),
            ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", nil, "uppercase hex is invalid"),
            ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", nil, "version ff is invalid"),
            ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", nil, "all-zero trace id"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", nil, "all-zero parent id"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", nil, "version 00 is exactly 55 characters"),
            ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", nil, "more only after a dash"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", nil, "short flags"),
            ("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", nil, "wrong separator"),
            ("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", nil, "not hex"),
            ("", nil, "empty"),
            ("00-4bf9", nil, "cut short"),
        ]
        for (text, expected, label) in cases {
            let parsed = parse(text)
            if let expected {
                XCTAssertEqual(parsed?.traceID.high, expected.high, label)
                XCTAssertEqual(parsed?.parentID.value, expected.parent, label)
                XCTAssertEqual(parsed?.flags, expected.flags, label)
            } else {
                XCTAssertNil(parsed, label)
            }
        }
        XCTAssertEqual(parse(Self.valid)?.header, Self.valid, "the header prints back")
        XCTAssertEqual(parse(Self.valid)?.traceID, Self.validID)
        XCTAssertEqual(parse(Self.valid)?.isSampled, true)
    }

    func testTraceParentInApplicationName() {
        let cases: [(String, Bool, String)] = [
            (Self.valid, true, "the whole name"),
            ("checkout " + Self.valid, true, "after a word"),
            ("checkout/" + Self.valid + " v2", true, "between words"),
            ("traceparent=" + Self.valid, true, "as key=value"),
            ("psql", false, "no trace"),
            ("x" + Self.valid, true, "a letter that is not hex may touch it"),
            ("f" + Self.valid, false, "inside a longer hex run"),
            (Self.valid + "0", false, "followed by more hex"),
            ("00-", false, "too short"),
        ]
        for (name, found, label) in cases {
            XCTAssertEqual(TraceParent.find(in: name) != nil, found, label)
        }
        XCTAssertEqual(TraceParent.find(in: "svc " + Self.valid)?.traceID, Self.validID)
    }

    func testSQLCommenterComments() {
        let tp = Self.valid
        let cases: [(String, Bool, String)] = [
            ("SELECT 1 /*traceparent='\(tp)'*/", true, "trailing, as sqlcommenter writes it"),
            ("SELECT * FROM t WHERE id = $1 /*action='list',traceparent='\(tp)',tracestate='congo%3Dt61rcWkgMzE'*/;",
             true, "among other pairs, before a semicolon"),
            ("SELECT 1 /*traceparent='\(tp)'*/ \n ;\n", true, "blanks and ; after it"),
            ("/*traceparent='\(tp)'*/ SELECT 1", true, "leading"),
            ("  /*controller='x',traceparent='\(tp)'*/\nUPDATE t SET a = 1", true, "leading after blanks"),
            ("SELECT 1 /*traceparent='00%2D4bf92f3577b34da6a3ce929d0e0e4736%2D00f067aa0ba902b7%2D01'*/", true, "URL-encoded"),
            ("SELECT 1 /*TraceParent='\(tp)'*/", true, "key case does not matter"),
            ("SELECT '/*traceparent=''\(tp)''*/'", false, "inside a string literal at the end"),
            ("SELECT 1 /*traceparent='\(tp)'*/ + 1", false, "a comment in the middle is not sqlcommenter's"),
            ("SELECT 1 /*traceparent=\(tp)*/", false, "unquoted value"),
            ("SELECT 1 /*traceparent='\(tp)*/", false, "unterminated value"),
            ("SELECT 1 /*traceparent='00-bad'*/", false, "invalid value"),
            ("SELECT 1 /* just a comment */", false, "no pairs"),
            ("SELECT 1 */", false, "no opening"),
            ("/*", false, "alone"),
            ("", false, "empty"),
        ]
        for (sql, found, label) in cases {
            var text = sql
            let parsed = text.withUTF8 { SQLCommenter.traceParent(inStatement: UnsafeRawBufferPointer($0)) }
            XCTAssertEqual(parsed != nil, found, label)
            if found { XCTAssertEqual(parsed?.traceID, Self.validID, label) }
        }
    }

    func testSamplerFollowsTheCallerAndSamplesRootsAtTheRatio() {
        let sampled = parse(Self.valid)!
        var unsampled = sampled
        unsampled.flags = 0
        let cases: [(Double, TraceParent?, TraceSampler.Decision)] = [
            (0, sampled, .child(of: sampled)),
            (0, unsampled, .none),
            (1, unsampled, .none),
            (0, nil, .none),
            (1, nil, .root),
        ]
        for (ratio, parent, expected) in cases {
            var draws = 0
            let decision = TraceSampler(ratio: ratio).decide(parent: parent) { draws += 1; return 0 }
            XCTAssertEqual(decision, expected, "ratio \(ratio), parent \(String(describing: parent?.flags))")
            if parent != nil || ratio == 0 || ratio == 1 { XCTAssertEqual(draws, 0, "no random number needed") }
        }
        for ratio in [0.01, 0.1, 0.5, 0.9] {
            let sampler = TraceSampler(ratio: ratio)
            var random = TraceIDGenerator(seed: 42)
            var roots = 0
            let draws = 200_000
            for _ in 0 ..< draws where sampler.decide(parent: nil, random: { random.next() }) == .root { roots += 1 }
            XCTAssertEqual(Double(roots) / Double(draws), ratio, accuracy: 0.005, "ratio \(ratio)")
        }
        XCTAssertEqual(TraceSampler(ratio: .nan).ratio, 0)
        XCTAssertEqual(TraceSampler(ratio: 7).ratio, 1)
        XCTAssertFalse(TraceSampler(ratio: 0).samplesRoots)
    }

    func testGeneratedIDsAreNonZeroAndDistinct() {
        var random = TraceIDGenerator(seed: 1)
        var seen = Set<UInt64>()
        for _ in 0 ..< 10_000 {
            let id = random.spanID()
            XCTAssertNotEqual(id.value, 0)
            seen.insert(id.value)
        }
        XCTAssertEqual(seen.count, 10_000)
        XCTAssertEqual(random.traceID().hex.count, 32)
        XCTAssertEqual(SpanID(0xab).hex, "00000000000000ab")
    }

    func testOTLPEndpoints() {
        let cases: [(String, String?, String)] = [
            ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces", "default path"),
            ("http://collector:4318/", "http://collector:4318/v1/traces", "slash only"),
            ("https://otel.example.com/custom/traces", "https://otel.example.com:443/custom/traces", "https, own path"),
            ("HTTP://[::1]:4318/v1/traces", "http://[::1]:4318/v1/traces", "IPv6"),
            ("http://localhost", "http://localhost:80/v1/traces", "default port"),
            ("grpc://collector:4317", nil, "not HTTP"),
            ("collector:4318", nil, "no scheme"),
            ("http://user:secret@collector:4318", nil, "credentials"),
            ("http://collector:4318/v1/traces?x=1", nil, "query"),
            ("http://collector:99999", nil, "port out of range"),
            ("http://:4318", nil, "no host"),
            ("http://[::1:4318", nil, "unclosed bracket"),
        ]
        for (text, expected, label) in cases {
            XCTAssertEqual(try? OTLPEndpoint.parse(text).url, expected, label)
        }
    }

    func testOTLPJSONCarriesTheSpanTreeAndNoLiterals() throws {
        let parent = parse(Self.valid)!
        let spans = [
            QuerySpan(traceID: parent.traceID, spanID: SpanID(0x1122_3344_5566_7788), parentID: parent.parentID,
                      startUnixNanos: 1_764_500_000_000_000_000, endUnixNanos: 1_764_500_000_002_500_000,
                      database: "appdb", user: "app", route: .replica, serverHost: "127.0.0.1", serverPort: 5433,
                      fingerprint: "select * from t where id = $1", waitNanos: 250_000),
            QuerySpan(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), parentID: nil,
                      startUnixNanos: 10, endUnixNanos: 20, database: "appdb", user: "app", route: .primary,
                      fingerprint: nil, sqlState: "23505"),
        ]
        let body = OTLPTraceJSON.encode(spans, serviceName: "pgrelay-test", serviceVersion: "1.2.3")
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
        let resourceSpans = try XCTUnwrap(document["resourceSpans"] as? [[String: Any]])
        let resource = try XCTUnwrap(resourceSpans.first?["resource"] as? [String: Any])
        XCTAssertTrue("\(resource)".contains("pgrelay-test"))
        let scopeSpans = try XCTUnwrap(resourceSpans.first?["scopeSpans"] as? [[String: Any]])
        let exported = try XCTUnwrap(scopeSpans.first?["spans"] as? [[String: Any]])
        XCTAssertEqual(exported.count, 2)
        let child = exported[0]
        XCTAssertEqual(child["traceId"] as? String, "4bf92f3577b34da6a3ce929d0e0e4736")
        XCTAssertEqual(child["parentSpanId"] as? String, "00f067aa0ba902b7")
        XCTAssertEqual(child["spanId"] as? String, "1122334455667788")
        XCTAssertEqual(child["name"] as? String, "SELECT appdb")
        XCTAssertEqual(child["kind"] as? Int, 3)
        XCTAssertEqual(child["startTimeUnixNano"] as? String, "1764500000000000000")
        let attributes = try XCTUnwrap(child["attributes"] as? [[String: Any]])
        var byKey: [String: Any] = [:]
        for attribute in attributes {
            let value = try XCTUnwrap(attribute["value"] as? [String: Any])
            byKey[attribute["key"] as! String] = value.values.first
        }
        XCTAssertEqual(byKey["db.system"] as? String, "postgresql")
        XCTAssertEqual(byKey["db.name"] as? String, "appdb")
        XCTAssertEqual(byKey["db.user"] as? String, "app")
        XCTAssertEqual(byKey["pgrelay.route"] as? String, "replica")
        XCTAssertEqual(byKey["db.statement"] as? String, "select * from t where id = $1")
        XCTAssertEqual(byKey["server.port"] as? String, "5433")
        XCTAssertEqual(byKey["pgrelay.wait_us"] as? String, "250")
        XCTAssertNil(child["status"], "no error")
        let root = exported[1]
        XCTAssertNil(root["parentSpanId"], "a root has no parent")
        XCTAssertEqual(root["name"] as? String, "query appdb")
        let status = try XCTUnwrap(root["status"] as? [String: Any])
        XCTAssertEqual(status["code"] as? Int, 2)
        XCTAssertTrue("\(root["attributes"] ?? "")".contains("23505"))
    }

    func testOTLPJSONEscapesWhatNeedsIt() throws {
        let names = ["plain", "quo\"te", "back\\slash", "new\nline\u{01}", "ünïcødé €", "",
                     String(repeating: "\u{01}", count: 3000), String(repeating: "\"", count: 5000)]
        for name in names {
            let span = QuerySpan(traceID: TraceID(high: 0, low: 1), spanID: SpanID(1), parentID: nil, startUnixNanos: 0,
                                 endUnixNanos: UInt64.max, database: name, user: name, route: .primary, serverHost: name,
                                 serverPort: 65535, fingerprint: name, sqlState: name, waitNanos: UInt64.max)
            let body = OTLPTraceJSON.encode([span], serviceName: name, serviceVersion: "0")
            let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any], name)
            let spans = ((document["resourceSpans"] as? [[String: Any]])?.first?["scopeSpans"] as? [[String: Any]])?.first?["spans"]
            let first = try XCTUnwrap((spans as? [[String: Any]])?.first, name)
            XCTAssertEqual(first["endTimeUnixNano"] as? String, "18446744073709551615")
            XCTAssertEqual(first["startTimeUnixNano"] as? String, "0")
            XCTAssertEqual(first["traceId"] as? String, "00000000000000000000000000000001")
            let attributes = try XCTUnwrap(first["attributes"] as? [[String: Any]])
            let database = attributes.first { $0["key"] as? String == "db.name" }?["value"] as? [String: Any]
            XCTAssertEqual(database?["stringValue"] as? String, name, "round trip of \(name.debugDescription)")
        }
    }

    func testSQLCommentsDoNotChangeTheShape() {
        func shape(_ sql: String) -> UInt64 { Array(sql.utf8).withUnsafeBytes { SQLShape.hash(utf8: $0) } }
        let a = "SELECT * FROM t WHERE id = 5 /*traceparent='\(Self.valid)'*/"
        let b = "SELECT * FROM t WHERE id = 7 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/"
        XCTAssertEqual(shape(a), shape(b))
        XCTAssertEqual(SQLFingerprint.normalize(a), SQLFingerprint.normalize(b))
        XCTAssertEqual(shape("SELECT 1 -- x\n"), shape("SELECT 1 -- yz\n"), "nor does a line comment's")
        XCTAssertNotEqual(shape("SELECT 1 /* x */"), shape("SELECT 1 -- x"), "the kind of comment stays in the shape")
        XCTAssertNotEqual(shape("SELECT 1 /* x */"), shape("SELECT 1 /* x"), "so does whether it is terminated")
    }
}
