/// Where spans are exported: an OTLP/HTTP traces URL (`otlp_endpoint`). A URL without a path
/// gets OpenTelemetry's default `/v1/traces`, as `OTEL_EXPORTER_OTLP_ENDPOINT` does.
public struct OTLPEndpoint: Equatable, Sendable {
    public var usesTLS: Bool
    public var host: String
    public var port: Int
    public var path: String

    public static let defaultPath = "/v1/traces"

    public init(usesTLS: Bool, host: String, port: Int, path: String) {
        self.usesTLS = usesTLS
        self.host = host
        self.port = port
        self.path = path
    }

    /// `http://host[:port][/path]` or `https://...`; IPv6 hosts in brackets. User names,
    /// passwords, queries and fragments are refused (they do not belong in a config value
    /// that SHOW CONFIG prints).
    public static func parse(_ text: String) throws -> OTLPEndpoint {
        let lowered = text.lowercased()
        let usesTLS: Bool
        let rest: Substring
        if lowered.hasPrefix("http://") {
            usesTLS = false
            rest = text.dropFirst(7)
        } else if lowered.hasPrefix("https://") {
            usesTLS = true
            rest = text.dropFirst(8)
        } else {
            throw ConfigValueProblem("must start with http:// or https:// (an OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318)")
        }
        let authority = rest.prefix { $0 != "/" }
        var path = String(rest.dropFirst(authority.count))
        guard !authority.contains("@") else { throw ConfigValueProblem("user names and passwords are not allowed in the URL") }
        guard !path.contains("?"), !path.contains("#"), !authority.contains("?"), !authority.contains("#") else {
            throw ConfigValueProblem("a query or fragment is not allowed in the URL")
        }
        guard !path.contains(where: { $0 == " " || $0.isNewline }) else { throw ConfigValueProblem("the path has a blank") }
        if path.isEmpty || path == "/" { path = defaultPath }
        var host = Substring(authority)
        var port = usesTLS ? 443 : 80
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw ConfigValueProblem("unclosed [ in the host") }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex) ..< close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw ConfigValueProblem("unexpected text after ]") }
                port = try parsePort(after.dropFirst())
            }
        } else if let colon = host.lastIndex(of: ":") {
            port = try parsePort(host[host.index(after: colon)...])
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "[" || $0 == "]" }) else {
            throw ConfigValueProblem("no host in the URL")
        }
        return OTLPEndpoint(usesTLS: usesTLS, host: String(host), port: port, path: path)
    }

    private static func parsePort(_ text: Substring) throws -> Int {
        guard let port = Int(text), (1 ... 65535).contains(port) else { throw ConfigValueProblem("invalid port \"\(text)\"") }
        return port
    }

    /// The URL as it is used.
    public var url: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return (usesTLS ? "https://" : "http://") + shownHost + ":\(port)" + path
    }
}
