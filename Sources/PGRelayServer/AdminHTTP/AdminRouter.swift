import NIOHTTP1

/// What an admin request asks for.
public enum AdminEndpoint: Equatable, Sendable {
    /// `GET /`: the dashboard page.
    case dashboard
    case health
    case queryMetrics
    case queryHistory
    case prometheusMetrics
    case listing(AdminListing)
    case reload
    case pause(database: String?)
    case resume(database: String?)
}

/// Why a request matched no endpoint.
public enum AdminRouteError: Error, Equatable, Sendable {
    case notFound(path: String)
    case methodNotAllowed(path: String, allowed: [HTTPMethod])
}

/// Maps a method and request target to an endpoint. Pure, so the table is unit tested.
public enum AdminRouter {
    private static let getPaths: [String: AdminEndpoint] = {
        var paths: [String: AdminEndpoint] = [
            "/": .dashboard,
            "/health": .health,
            "/metrics/queries": .queryMetrics,
            "/metrics/queries/history": .queryHistory,
            "/metrics": .prometheusMetrics,
        ]
        for listing in AdminListing.allCases { paths["/" + listing.rawValue] = .listing(listing) }
        return paths
    }()

    private static let postPaths: Set<String> = ["/reload", "/pause", "/resume"]

    /// Routes a request; `HEAD` is not served (405, like any other method a path does not take).
    public static func route(method: HTTPMethod, uri: String) -> Result<AdminEndpoint, AdminRouteError> {
        let target = RequestTarget(uri)
        if let endpoint = getPaths[target.path] {
            return method == .GET ? .success(endpoint) : .failure(.methodNotAllowed(path: target.path, allowed: [.GET]))
        }
        guard postPaths.contains(target.path) else { return .failure(.notFound(path: target.path)) }
        guard method == .POST else { return .failure(.methodNotAllowed(path: target.path, allowed: [.POST])) }
        let database = target.query["db"].flatMap { $0.isEmpty ? nil : $0 }
        switch target.path {
        case "/reload": return .success(.reload)
        case "/pause": return .success(.pause(database: database))
        default: return .success(.resume(database: database))
        }
    }
}

/// A request target split into a path (one trailing slash ignored) and decoded query parameters.
struct RequestTarget: Equatable {
    var path: String
    var query: [String: String]

    init(_ uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var path = parts.first.map { Self.percentDecoded(Substring($0), plusIsSpace: false) } ?? "/"
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        self.path = path
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = Self.percentDecoded(keyValue[0], plusIsSpace: true)
                if query[key] == nil {
                    query[key] = keyValue.count > 1 ? Self.percentDecoded(keyValue[1], plusIsSpace: true) : ""
                }
            }
        }
        self.query = query
    }

    /// Decodes %XX escapes; malformed escapes stay as they are, invalid UTF-8 becomes U+FFFD.
    static func percentDecoded(_ text: Substring, plusIsSpace: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
               let high = hexValue(iterator[iterator.startIndex]),
               let low = hexValue(iterator[iterator.startIndex + 1]) {
                bytes.append(high << 4 | low)
                iterator.removeFirst(2)
            } else if byte == UInt8(ascii: "+"), plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
