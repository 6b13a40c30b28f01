import NIOHTTP1
import PGRelayCore

/// A complete admin HTTP response before transfer encoding (gzip) and connection headers.
public struct AdminResponse: Sendable {
    public static let jsonContentType = "application/json; charset=utf-8"

    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]
    /// Headers beyond Content-Type, Content-Length, Content-Encoding and Connection (e.g. Allow).
    public var extraHeaders: [(String, String)]

    /// Creates a response.
    public init(status: HTTPResponseStatus, contentType: String, body: [UInt8], extraHeaders: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.extraHeaders = extraHeaders
    }

    /// A JSON response (with a trailing newline, friendlier to curl).
    public static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, contentType: jsonContentType, body: Array((value.serialized + "\n").utf8))
    }

    /// `{"error": message, ...extra}` with the given status.
    public static func error(_ status: HTTPResponseStatus, _ message: String,
                             extra: [(String, JSONValue)] = [], headers: [(String, String)] = []) -> AdminResponse {
        var response = json(.object([("error", .string(message))] + extra), status: status)
        response.extraHeaders = headers
        return response
    }

    /// The response for a request that matched no endpoint: 404, or 405 with an Allow header.
    public static func routeError(_ error: AdminRouteError) -> AdminResponse {
        switch error {
        case let .notFound(path):
            return .error(.notFound, "not found", extra: [("path", .string(path))])
        case let .methodNotAllowed(path, allowed):
            let methods = allowed.map(\.rawValue)
            return .error(.methodNotAllowed, "method not allowed",
                          extra: [("path", .string(path)), ("allowed", .array(methods.map { .string($0) }))],
                          headers: [("Allow", methods.joined(separator: ", "))])
        }
    }
}
