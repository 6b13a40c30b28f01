import Foundation

/// Wall-clock instants in admin JSON: ISO 8601 in UTC with milliseconds
/// (`2026-12-03T16:40:12.345Z`), which dashboards and `jq` parse without a format string.
public enum ISO8601Time {
    public static func text(secondsSince1970 seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }
}
