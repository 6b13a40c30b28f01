import Foundation

/// Session parameters a client may set (in its startup packet or with SET) that the proxy carries
/// from server to server, as PgBouncer's track_extra_parameters does: whichever server a client gets
/// is first brought to the values that client last saw.
public struct TrackedParameters: Sendable, Equatable {
    public static let alwaysTracked = [
        "client_encoding", "DateStyle", "IntervalStyle", "TimeZone", "standard_conforming_strings", "application_name",
    ]

    /// Lower-cased name → canonical name, as PostgreSQL reports it in ParameterStatus.
    private let canonical: [String: String]
    /// Canonical name → value the client expects.
    public private(set) var values: [String: String] = [:]
    /// `values["application_name"]`, kept apart: tracing reads it for every request, and a
    /// dictionary lookup (hashing the name) cost ~1,000 instructions there.
    public private(set) var applicationName: String?

    /// The `extra` names this value was made with (track_extra_parameters).
    public let extraNames: [String]

    public init(extra: [String] = []) {
        extraNames = extra
        var map: [String: String] = [:]
        for name in Self.alwaysTracked + extra { map[name.lowercased()] = name }
        canonical = map
    }

    /// The canonical name if `name` (any case) is tracked.
    public func canonicalName(_ name: String) -> String? {
        canonical[name.lowercased()]
    }

    public mutating func set(_ name: String, _ value: String) {
        guard let name = canonicalName(name) else { return }
        values[name] = value
        if name == "application_name" { applicationName = value }
    }

    /// Takes `equal`'s storage for the values when it holds the same values (they are shared
    /// copy-on-write then); otherwise changes nothing.
    public mutating func shareValues(with equal: [String: String]) {
        if equal == values { values = equal }
    }

    public func value(_ name: String) -> String? {
        // A name already in canonical case (the usual caller) needs no lowercased copy.
        guard let canonical = canonical[name] ?? canonicalName(name) else { return nil }
        return values[canonical]
    }

    /// Parameters whose value on a server differs from what the client expects, sorted by name so
    /// the generated SET is deterministic.
    public func differences(from server: [String: String]) -> [(name: String, value: String)] {
        // Runs once per server assignment: no allocation when nothing differs (the usual case).
        var result: [(name: String, value: String)] = []
        for (name, value) in values where server[name] != value {
            result.append((name, value))
        }
        if result.count > 1 { result.sort { $0.name < $1.name } }
        return result
    }

    /// One Query string that sets every given parameter; values are quoted as SQL literals.
    public static func setStatement(_ parameters: [(name: String, value: String)]) -> String {
        parameters.map { "SET \(quoteIdentifier($0.name)) TO \(quoteLiteral($0.value))" }.joined(separator: "; ")
    }

    /// Quotes as PostgreSQL's quote_literal does: a value with a backslash becomes an E'' string
    /// with the backslash doubled, so it means the same whether the server's
    /// standard_conforming_strings is on or off (a client may have turned it off).
    static func quoteLiteral(_ value: String) -> String {
        let quoted = value.replacingOccurrences(of: "'", with: "''")
        guard quoted.contains("\\") else { return "'" + quoted + "'" }
        return "E'" + quoted.replacingOccurrences(of: "\\", with: "\\\\") + "'"
    }

    static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
