import Foundation

/// `client_tls_ciphers` / `server_tls_ciphers`: an OpenSSL-style cipher string (or one of
/// PgBouncer's shortcuts) resolved to the exact TLS 1.2-and-lower suites BoringSSL will offer.
///
/// The string is evaluated here, by the rules of BoringSSL's cipher-string parser, instead of
/// being handed to BoringSSL as is: swift-nio-ssl stops the process when BoringSSL rejects a
/// cipher string, so only a list of exact suite names, known to be non-empty, reaches it.
/// TLS 1.3 suites are not configurable in BoringSSL and are not affected.
public struct TLSCipherSelection: Equatable, Sendable {
    /// The suites in preference order; never empty.
    public let suites: [TLSCipherSuite]

    /// The suites as a cipher list of exact names, for `TLSConfiguration.cipherSuites`.
    public var cipherList: String { suites.map(\.name).joined(separator: ":") }

    /// Longest accepted value; real cipher strings are far shorter.
    public static let maxLength = 2048

    /// PgBouncer's shortcuts, written as BoringSSL rules with the intent of libusual's strings:
    /// `default` forward-secret AEAD only; `compat` every suite but 3DES; `all` every suite;
    /// `normal` ECDHE before RSA key exchange and TLS 1.2 suites first, 3DES last; `fast` as
    /// `normal` with AES-128 before AES-256. BoringSSL has no DHE suites to add.
    public static let shortcuts: [String: String] = [
        "default": "ECDHE+AESGCM:ECDHE+CHACHA20",
        "secure": "ECDHE+AESGCM:ECDHE+CHACHA20",
        "compat": "ALL",
        "legacy": "ALL",
        "all": "ALL:3DES",
        "insecure": "ALL:3DES",
        "normal": "ECDHE:RSA:+SSLv3:+RSA:RSA+3DES",
        "fast": "ECDHE:RSA:+AES256:+SSLv3:+RSA:RSA+3DES",
    ]

    /// Resolves `text` (a shortcut, any letter case, or a cipher string).
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw TLSSettingProblem("empty cipher list") }
        guard trimmed.utf8.count <= Self.maxLength else {
            throw TLSSettingProblem("cipher list longer than \(Self.maxLength) characters")
        }
        let rules = Self.shortcuts[trimmed.lowercased()] ?? trimmed
        var list = CipherOrder()
        for rule in try Self.rules(of: rules) { list.apply(rule) }
        let chosen = list.activeSuites
        guard !chosen.isEmpty else {
            throw TLSSettingProblem("\"\(TLSSettingProblem.shown(trimmed))\" selects no cipher suite the TLS library (BoringSSL) supports for TLS 1.2 and lower")
        }
        guard chosen.contains(where: { $0.authentication != .psk }) else {
            throw TLSSettingProblem("\"\(TLSSettingProblem.shown(trimmed))\" selects only PSK suites, which need pre-shared keys pgrelay does not configure")
        }
        suites = chosen
    }

    // MARK: parsing

    enum Operation: Equatable { case add, delete, kill, moveToEnd, sortByStrength }

    struct Rule: Equatable {
        var operation: Operation
        /// Suite indices in `TLSCipherSuite.tls12` this rule selects.
        var selected: Set<Int>
    }

    private static func isWordCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "." || c == "_")
    }

    private static func isSeparator(_ c: Character) -> Bool {
        c == ":" || c == " " || c == ";" || c == ","
    }

    static func rules(of text: String) throws -> [Rule] {
        var rest = Substring(text)
        var rules: [Rule] = []
        // BoringSSL (like OpenSSL) expands a leading DEFAULT to its default list, which is ALL.
        if rest.hasPrefix("DEFAULT") {
            rules.append(Rule(operation: .add, selected: Self.aliasSelection("ALL", adding: true) ?? []))
            rest = rest.dropFirst("DEFAULT".count)
        }
        while let first = rest.first {
            if isSeparator(first) {
                rest = rest.dropFirst()
                continue
            }
            var operation = Operation.add
            switch first {
            case "-": operation = .delete
            case "+": operation = .moveToEnd
            case "!": operation = .kill
            case "@": operation = .sortByStrength
            case "[", "]", "|":
                throw TLSSettingProblem("equal-preference groups ([a|b]) are not supported")
            default: break
            }
            if operation != .add { rest = rest.dropFirst() }
            let item = rest.prefix { !isSeparator($0) }
            rest = rest.dropFirst(item.count)
            if let bad = item.first(where: { !isWordCharacter($0) && $0 != "+" }) {
                throw TLSSettingProblem("unexpected character \"\(bad)\" in cipher list")
            }
            let words = item.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            guard !words.contains(where: \.isEmpty) else {
                throw TLSSettingProblem("empty name in cipher rule \"\(TLSSettingProblem.shown(String(item)))\"")
            }
            if operation == .sortByStrength {
                guard words == ["STRENGTH"] else {
                    throw TLSSettingProblem("unknown special rule \"@\(TLSSettingProblem.shown(String(item)))\" (only @STRENGTH)")
                }
                rules.append(Rule(operation: .sortByStrength, selected: []))
                continue
            }
            rules.append(Rule(operation: operation, selected: try selection(of: words, operation: operation)))
        }
        return rules
    }

    /// The suites a rule's words select together (`ECDHE+AESGCM`: both must hold).
    private static func selection(of words: [String], operation: Operation) throws -> Set<Int> {
        // An exact suite name stands alone; BoringSSL does not combine it with others.
        if words.count == 1, let index = TLSCipherSuite.tls12.firstIndex(where: { $0.name == words[0] || $0.standardName == words[0] }) {
            return [index]
        }
        var selected = Set(TLSCipherSuite.tls12.indices)
        var includesDeprecated = operation != .add
        for word in words {
            if let aliased = aliasSelection(word, adding: false) {
                selected.formIntersection(aliased)
                if word == "3DES" { includesDeprecated = true }
            } else if selectsNothingInBoringSSL(word) {
                selected = []
            } else {
                throw TLSSettingProblem("unknown cipher or alias \"\(TLSSettingProblem.shown(word))\"")
            }
        }
        if !includesDeprecated {
            selected = selected.filter { !TLSCipherSuite.tls12[$0].isDeprecated }
        }
        return selected
    }

    /// BoringSSL's aliases (case-sensitive, as in BoringSSL and OpenSSL).
    static func aliasSelection(_ word: String, adding: Bool) -> Set<Int>? {
        let predicate: ((TLSCipherSuite) -> Bool)?
        switch word {
        case "ALL", "HIGH", "FIPS": predicate = { _ in true }
        case "kRSA": predicate = { $0.keyExchange == .rsa }
        case "RSA": predicate = { $0.keyExchange == .rsa && $0.authentication == .rsa }
        case "kECDHE", "kEECDH", "ECDH", "ECDHE", "EECDH": predicate = { $0.keyExchange == .ecdhe }
        case "kPSK": predicate = { $0.keyExchange == .psk }
        case "PSK": predicate = { $0.keyExchange == .psk && $0.authentication == .psk }
        case "aRSA": predicate = { $0.authentication == .rsa }
        case "aECDSA", "ECDSA": predicate = { $0.authentication == .ecdsa }
        case "aPSK": predicate = { $0.authentication == .psk }
        case "3DES": predicate = { $0.encryption == .tripleDES }
        case "AES128": predicate = { $0.encryption == .aes128 || $0.encryption == .aes128GCM }
        case "AES256": predicate = { $0.encryption == .aes256 || $0.encryption == .aes256GCM }
        case "AES": predicate = { $0.encryption != .tripleDES && $0.encryption != .chacha20 }
        case "AESGCM": predicate = { $0.encryption == .aes128GCM || $0.encryption == .aes256GCM }
        case "CHACHA20": predicate = { $0.encryption == .chacha20 }
        case "SHA1", "SHA": predicate = { $0.mac == .sha1 }
        case "SSLv3", "TLSv1": predicate = { !$0.needsTLS12 }
        case "TLSv1.2": predicate = { $0.needsTLS12 }
        default: predicate = nil
        }
        guard let predicate else { return nil }
        var selected = Set(TLSCipherSuite.tls12.indices.filter { predicate(TLSCipherSuite.tls12[$0]) })
        if adding { selected = selected.filter { !TLSCipherSuite.tls12[$0].isDeprecated } }
        return selected
    }

    /// OpenSSL aliases for algorithms BoringSSL does not implement, and names of single suites
    /// (they contain `-`, or are IANA `TLS_` names) BoringSSL lacks or that belong to TLS 1.3:
    /// accepted, as OpenSSL and BoringSSL accept them, selecting nothing. Other words are typos.
    private static func selectsNothingInBoringSSL(_ word: String) -> Bool {
        openSSLOnlyAliases.contains(word) || word.contains("-") || word.hasPrefix("TLS_")
    }

    private static let openSSLOnlyAliases: Set<String> = [
        "COMPLEMENTOFDEFAULT", "COMPLEMENTOFALL", "MEDIUM", "LOW", "EXPORT", "EXP", "NULL", "eNULL",
        "aNULL", "ADH", "AECDH", "DH", "kDH", "kDHE", "kEDH", "DHE", "EDH", "kDHr", "kDHd", "aDH",
        "DSS", "aDSS", "SHA256", "SHA384", "MD5", "CAMELLIA", "CAMELLIA128", "CAMELLIA256", "ARIA",
        "ARIA128", "ARIA256", "ARIAGCM", "SEED", "IDEA", "RC4", "RC2", "DES", "AESCCM", "AESCCM8",
        "CHACHA20POLY1305", "SUITEB128", "SUITEB128ONLY", "SUITEB192", "kGOST", "aGOST", "GOST89MAC",
        "GOST94", "kRSAPSK", "kDHEPSK", "kECDHEPSK", "RSAPSK", "DHEPSK", "ECDHEPSK", "aECDH", "kECDH",
        "TLSv1.0", "SSLv2", "AEAD", "CBC",
    ]

    // MARK: evaluation

    /// The suite list as BoringSSL keeps it while applying rules: an order of live suites
    /// (killed ones leave it), some of them active.
    struct CipherOrder {
        var order = Array(TLSCipherSuite.tls12.indices)
        var active: Set<Int> = []

        mutating func apply(_ rule: Rule) {
            switch rule.operation {
            case .add:
                let added = order.filter { rule.selected.contains($0) && !active.contains($0) }
                order = order.filter { !added.contains($0) } + added
                active.formUnion(added)
            case .moveToEnd:
                let moved = order.filter { rule.selected.contains($0) && active.contains($0) }
                order = order.filter { !moved.contains($0) } + moved
            case .delete:
                // Deleted suites go first: a later add brings back the most recently deleted first.
                let deleted = order.filter { rule.selected.contains($0) && active.contains($0) }
                order = deleted + order.filter { !deleted.contains($0) }
                active.subtract(deleted)
            case .kill:
                order.removeAll { rule.selected.contains($0) }
                active.subtract(rule.selected)
            case .sortByStrength:
                let live = order.filter { active.contains($0) }
                let sorted = live.enumerated().sorted { lhs, rhs in
                    let (left, right) = (TLSCipherSuite.tls12[lhs.element].strengthBits, TLSCipherSuite.tls12[rhs.element].strengthBits)
                    return left != right ? left > right : lhs.offset < rhs.offset
                }.map(\.element)
                order = order.filter { !active.contains($0) } + sorted
            }
        }

        var activeSuites: [TLSCipherSuite] {
            order.filter { active.contains($0) }.map { TLSCipherSuite.tls12[$0] }
        }
    }
}

/// Why a TLS setting (`*_tls_protocols`, `*_tls_ciphers`) was rejected; the config loader adds
/// file, line and key.
public struct TLSSettingProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// A value shortened for messages.
    static func shown(_ text: String) -> String {
        text.count > 60 ? String(text.prefix(60)) + "..." : text
    }
}
