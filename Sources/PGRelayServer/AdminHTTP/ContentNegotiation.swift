/// Reading of the request headers that shape the response body.
enum ContentNegotiation {
    /// Bodies up to this size go out uncompressed: gzip would save little and cost CPU.
    static let gzipMinimumBytes = 1024

    /// Whether an `Accept-Encoding` value allows gzip: `gzip`, `x-gzip` or `*`, with a q-value
    /// above zero (`gzip;q=0` refuses it).
    static func acceptsGzip(_ headerValues: [String]) -> Bool {
        for value in headerValues {
            for element in value.split(separator: ",") {
                let parameters = element.split(separator: ";").map { $0.trimmingASCIISpaces().lowercased() }
                guard let coding = parameters.first, ["gzip", "x-gzip", "*"].contains(coding) else { continue }
                let quality = parameters.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) }
                if (quality ?? 1) > 0 { return true }
            }
        }
        return false
    }
}

extension Substring {
    /// The text without leading and trailing spaces and tabs.
    func trimmingASCIISpaces() -> Substring {
        var trimmed = self
        while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
        while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
        return trimmed
    }
}
