import FuzzSupport
import NIOHTTP1
import PGRelayServer

/// The admin HTTP router: the first byte picks the method, the rest is the request target.
/// Properties: every target routes to an endpoint or a 404/405 naming the decoded path; an
/// endpoint answers only the method it takes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAdminRouter(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    guard let selector = input.first else { return 0 }
    let methods: [HTTPMethod] = [.GET, .POST, .HEAD, .PUT, .DELETE, .OPTIONS, .PATCH, .RAW(value: "BREW")]
    let method = methods[Int(selector) % methods.count]
    let uri = String(decoding: input.dropFirst(), as: UTF8.self)
    switch AdminRouter.route(method: method, uri: uri) {
    case .success(let endpoint):
        switch endpoint {
        case .reload, .pause, .resume: fuzzRequire(method == .POST, "\(endpoint) routed for \(method)")
        default: fuzzRequire(method == .GET, "\(endpoint) routed for \(method)")
        }
        if case .pause(let database?) = endpoint { fuzzRequire(!database.isEmpty, "pause of an empty database name") }
        if case .resume(let database?) = endpoint { fuzzRequire(!database.isEmpty, "resume of an empty database name") }
    case .failure(.notFound(let path)), .failure(.methodNotAllowed(let path, _)):
        fuzzRequire(path.utf8.count <= uri.utf8.count, "decoded path \(path.utf8.count) bytes from a \(uri.utf8.count)-byte target")
    }
    return 0
}

runLibFuzzer()
