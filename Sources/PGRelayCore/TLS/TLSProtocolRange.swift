import Foundation

/// A TLS protocol version, oldest first.
public enum TLSProtocolVersion: Int, Comparable, CaseIterable, Sendable {
    case tls1_0, tls1_1, tls1_2, tls1_3

    /// The name PgBouncer's settings and SHOW CLIENTS use (`TLSv1.2`).
    public var name: String {
        switch self {
        case .tls1_0: return "TLSv1"
        case .tls1_1: return "TLSv1.1"
        case .tls1_2: return "TLSv1.2"
        case .tls1_3: return "TLSv1.3"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// `client_tls_protocols` / `server_tls_protocols`: the TLS versions allowed, as PgBouncer
/// (libusual's `tls_config_parse_protocols`) reads them: items separated by `,` or `:`, each a
/// version (`tlsv1.0` ... `tlsv1.3`, `tlsv1` = 1.0 to 1.2) or a shortcut (`secure`/`default` =
/// 1.2 and 1.3, `all`/`legacy` = 1.0 to 1.3), any letter case; `!item` removes (a list starting
/// with a removal starts from all).
///
/// BoringSSL takes a minimum and a maximum version, so the allowed versions must be
/// contiguous: `tlsv1.0,tlsv1.2` is refused instead of silently meaning something else
/// (OpenSSL would use TLS 1.0 only).
public struct TLSProtocolRange: Equatable, Sendable {
    public let minimum: TLSProtocolVersion
    public let maximum: TLSProtocolVersion

    /// PgBouncer's default, `secure`.
    public static let secure = TLSProtocolRange(minimum: .tls1_2, maximum: .tls1_3)

    public init(minimum: TLSProtocolVersion, maximum: TLSProtocolVersion) {
        self.minimum = Swift.min(minimum, maximum)
        self.maximum = Swift.max(minimum, maximum)
    }

    /// Longest accepted value.
    public static let maxLength = 256

    /// Parses a protocol list; a clear problem for anything else.
    public init(_ text: String) throws {
        guard text.utf8.count <= Self.maxLength else {
            throw TLSSettingProblem("protocol list longer than \(Self.maxLength) characters")
        }
        var allowed: Set<TLSProtocolVersion> = []
        var sawItem = false
        for rawItem in text.split(separator: ",", omittingEmptySubsequences: false)
            .flatMap({ $0.split(separator: ":", omittingEmptySubsequences: false) }) {
            var item = rawItem.trimmingCharacters(in: .whitespaces).lowercased()
            let removes = item.hasPrefix("!")
            if removes { item = String(item.dropFirst()) }
            guard let versions = Self.versions(named: item) else {
                throw TLSSettingProblem("unknown TLS protocol \"\(TLSSettingProblem.shown(String(rawItem).trimmingCharacters(in: .whitespaces)))\" (use tlsv1.0, tlsv1.1, tlsv1.2, tlsv1.3, secure, all or legacy)")
            }
            if removes {
                if !sawItem { allowed = Set(TLSProtocolVersion.allCases) }
                allowed.subtract(versions)
            } else {
                allowed.formUnion(versions)
            }
            sawItem = true
        }
        guard let low = allowed.min(), let high = allowed.max() else {
            throw TLSSettingProblem("no TLS protocol version left in \"\(TLSSettingProblem.shown(text))\"")
        }
        let span = TLSProtocolVersion.allCases.filter { $0 >= low && $0 <= high }
        guard span.count == allowed.count else {
            let missing = span.filter { !allowed.contains($0) }.map(\.name).joined(separator: ", ")
            throw TLSSettingProblem("allowed TLS versions must be contiguous (\(missing) missing between \(low.name) and \(high.name))")
        }
        self.init(minimum: low, maximum: high)
    }

    private static func versions(named item: String) -> [TLSProtocolVersion]? {
        switch item {
        case "all", "legacy": return TLSProtocolVersion.allCases
        case "secure", "default": return [.tls1_2, .tls1_3]
        case "tlsv1": return [.tls1_0, .tls1_1, .tls1_2]
        case "tlsv1.0": return [.tls1_0]
        case "tlsv1.1": return [.tls1_1]
        case "tlsv1.2": return [.tls1_2]
        case "tlsv1.3": return [.tls1_3]
        default: return nil
        }
    }
}
