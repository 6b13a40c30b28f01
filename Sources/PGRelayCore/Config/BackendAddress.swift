/// Where a PostgreSQL server listens: a host name, an IP address, or a Unix-socket directory.
public struct BackendAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name, IPv4/IPv6 literal (without brackets), or a Unix-socket directory
    /// (starting with `/`, or `@` for Linux's abstract namespace).
    public var host: String
    /// TCP port, or the number in the socket file name `.s.PGSQL.<port>` for Unix sockets.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// True when `host` names a Unix-socket directory rather than a network host.
    public var isUnixSocket: Bool { host.hasPrefix("/") || host.hasPrefix("@") }

    /// True when `host` is an IPv6 literal.
    public var isIPv6: Bool { host.contains(":") && !isUnixSocket }

    /// Full path of the Unix socket file, when `isUnixSocket`.
    public var unixSocketPath: String? {
        guard isUnixSocket else { return nil }
        return (host.hasSuffix("/") ? host : host + "/") + ".s.PGSQL.\(port)"
    }

    /// `host:port`, `[v6]:port`, or the socket path.
    public var description: String {
        if let path = unixSocketPath { return path }
        return isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension BackendAddress {
    /// Parses one `host[:port]` item of a `replicas=` list: `db2`, `10.0.0.2:5433`, `[::1]:5433`,
    /// a bare IPv6 literal (`::1`, which then takes the default port), or a socket directory.
    static func parse(_ text: Substring, defaultPort: Int) throws -> BackendAddress {
        let item = text.trimmingBlanks()
        guard !item.isEmpty else { throw ConfigValueProblem("empty host in address list") }
        if item.first == "[" {
            guard let close = item.firstIndex(of: "]") else {
                throw ConfigValueProblem("invalid address \(ConfigValueParser.quoted(String(item))): missing \"]\"")
            }
            let host = item[item.index(after: item.startIndex)..<close]
            let rest = item[item.index(after: close)...]
            guard !host.isEmpty, host.contains(":") else {
                throw ConfigValueProblem("invalid address \(ConfigValueParser.quoted(String(item))): brackets are for IPv6 literals")
            }
            try validateHost(host, in: item)
            if rest.isEmpty { return BackendAddress(host: String(host), port: defaultPort) }
            guard rest.first == ":" else {
                throw ConfigValueProblem("invalid address \(ConfigValueParser.quoted(String(item))): expected \":port\" after \"]\"")
            }
            return BackendAddress(host: String(host), port: try port(rest.dropFirst(), in: item))
        }
        let colons = item.filter { $0 == ":" }.count
        if colons == 1 || (item.first == "/" || item.first == "@"), let colon = item.lastIndex(of: ":") {
            // Unix-socket directories may contain colons; only the part after the last one is a port.
            let host = item[..<colon]
            guard !host.isEmpty else {
                throw ConfigValueProblem("invalid address \(ConfigValueParser.quoted(String(item))): missing host")
            }
            try validateHost(host, in: item)
            return BackendAddress(host: String(host), port: try port(item[item.index(after: colon)...], in: item))
        }
        try validateHost(item, in: item)
        return BackendAddress(host: String(item), port: defaultPort)
    }

    /// Parses a `host=` value: one host or a comma-separated list (PgBouncer 1.25), all on `port`.
    static func parseHostList(_ text: String, port: Int) throws -> [BackendAddress] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
            let host = item.trimmingBlanks()
            guard !host.isEmpty else { throw ConfigValueProblem("empty host in host list") }
            try validateHost(host, in: host)
            return BackendAddress(host: String(host), port: port)
        }
    }

    /// Parses a comma-separated `host[:port]` list (the `replicas=` option).
    static func parseList(_ text: String, defaultPort: Int) throws -> [BackendAddress] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { try parse($0, defaultPort: defaultPort) }
    }

    private static func port(_ text: Substring, in item: Substring) throws -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw ConfigValueProblem("invalid port \(ConfigValueParser.quoted(String(text))) in \(ConfigValueParser.quoted(String(item))) (1..65535)")
        }
        return port
    }

    /// Host names and literals are letters, digits, `.`, `-`, `_`, `:` (IPv6) and `%` (zone); socket
    /// directories are paths. Blanks, quotes, brackets and control characters are always refused.
    private static func validateHost(_ host: Substring, in item: Substring) throws {
        let isPath = host.first == "/" || host.first == "@"
        let valid = host.unicodeScalars.allSatisfy { scalar in
            if scalar.value < 0x21 || scalar.value == 0x7f { return false }
            if "[]'\"".unicodeScalars.contains(scalar) { return false }
            if isPath { return true }
            return scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || ".-_:%".unicodeScalars.contains(scalar)
        }
        guard valid, host.utf8.count <= 255 else {
            throw ConfigValueProblem("invalid host \(ConfigValueParser.quoted(String(host))) in \(ConfigValueParser.quoted(String(item)))")
        }
    }
}
