/// "Did you mean ...?" for misspelled key names.
enum ConfigKeySuggestion {
    /// Longest name compared; longer input is certainly not a misspelling of a key.
    private static let maxLength = 64

    /// The known name closest to `name` by edit distance, if it is close enough to be a typo.
    static func closest(to name: String, among candidates: [String]) -> String? {
        let lowered = name.lowercased()
        let typed = Array(lowered.utf8)
        guard typed.count <= maxLength else { return nil }
        // A key with something appended (`max_client_connections` for `max_client_conn`).
        if let extended = candidates.filter({ $0.utf8.count >= 8 && lowered.hasPrefix($0) }).max(by: { $0.count < $1.count }) {
            return extended
        }
        let allowed = typed.count >= 10 ? 3 : 2
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(typed, Array(candidate.utf8))
            if distance <= allowed, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    /// `" (did you mean \"x\"?)"` or an empty string.
    static func hint(for name: String, among candidates: [String]) -> String {
        closest(to: name, among: candidates).map { " (did you mean \"\($0)\"?)" } ?? ""
    }

    /// Levenshtein distance over bytes (key names are ASCII).
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
