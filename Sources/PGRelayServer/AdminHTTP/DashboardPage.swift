import Foundation
import PGRelayCore

/// `GET /`: one self-contained page (no file, font or script from elsewhere) over the admin
/// API's data. Everything but the chart is rendered here, so the tables work without
/// JavaScript; the page's script draws the chart from `/metrics/queries/history` and every few
/// seconds swaps in the live sections of a freshly fetched page.
struct DashboardPage {
    static let contentType = "text/html; charset=utf-8"
    /// The page may talk only to this server, and nothing is kept in a cache.
    static let headers: [(String, String)] = [
        ("Content-Security-Policy",
         "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]

    let snapshot: QueryStatsSnapshot
    let backends: [BackendHealth]
    /// Rows of `/pools` (SHOW POOLS).
    let pools: [[String: AdminValue]]
    let settings: StatsSettings

    var html: String {
        var page = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>pgrelay \(Self.escape(snapshot.health.rawValue))</title>
        <style>\(DashboardAssets.css)</style></head>
        <body data-refreshed="0">
        <header><h1>pgrelay</h1>
        """
        page += section("status", status)
        page += "</header>\n<main>\n"
        page += """
        <section id="chart-section"><h2>Latency percentiles per \(Self.number(settings.slotSeconds)) s</h2>
        <p class="controls"><label>Series <select id="series"><option value="all">all queries</option></select></label>
        <span class="legend"><i class="p50"></i>p50 <i class="p90"></i>p90 <i class="p95"></i>p95 <i class="p99"></i>p99 <i class="threshold"></i>slow threshold</span></p>
        <svg id="chart" viewBox="0 0 960 280" role="img" aria-label="latency percentiles over time" data-points="0"></svg>
        <noscript><p class="muted">The chart needs JavaScript; the tables below do not.</p></noscript>
        </section>

        """
        page += section("slow-share", slowShare)
        page += section("fingerprints", fingerprints)
        page += section("pools", poolTable)
        page += section("backends", backendTable)
        page += """
        </main>
        <footer class="muted">JSON: <a href="/health">/health</a> <a href="/metrics/queries">/metrics/queries</a>
        <a href="/metrics/queries/history">/metrics/queries/history</a> <a href="/pools">/pools</a> · Prometheus: <a href="/metrics">/metrics</a>
        · \(Self.escape(PGRelayVersion.line))</footer>
        <script>\(DashboardAssets.script)</script>
        </body></html>

        """
        return page
    }

    // MARK: sections (each one is swapped in whole by the page's refresh)

    private func section(_ id: String, _ content: String) -> String {
        "<section id=\"\(id)\" data-live>\n\(content)</section>\n"
    }

    private var status: String {
        let health = snapshot.health.rawValue
        var reasons: [String] = []
        let share = snapshot.overall.slowRatio
        let total = snapshot.overall.count
        if total == 0 {
            reasons.append("no queries in the last \(snapshot.windowSeconds) s")
        } else {
            let band: String
            switch snapshot.health {
            case .healthy: band = "below the degraded band (\(Self.percent(settings.degradedRatio)))"
            case .degraded: band = "at or above \(Self.percent(settings.degradedRatio)), not above \(Self.percent(settings.unhealthyRatio))"
            case .unhealthy: band = "above \(Self.percent(settings.unhealthyRatio))"
            }
            reasons.append("\(snapshot.overall.slow) of \(total) queries slower than \(Self.number(snapshot.thresholdMs)) ms "
                + "in the last \(snapshot.windowSeconds) s: \(Self.percent(share)), \(band)")
        }
        for backend in backends where !backend.up {
            reasons.append("backend \(backend.host):\(backend.port) (\(backend.database), \(backend.role)) is down")
        }
        let updated = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withTime, .withColonSeparatorInTime])
        return """
        <p><span id="status-word" class="badge \(Self.escape(health))">\(Self.escape(health))</span>
        <span class="muted">updated \(updated) UTC</span></p>
        <ul class="reasons">\(reasons.map { "<li>\(Self.escape($0))</li>" }.joined())</ul>

        """
    }

    private var slowShare: String {
        var rows = [("all queries", snapshot.overall)]
        rows += QueryRoute.allCases.map { ("route \($0.rawValue)", snapshot.byRoute[$0] ?? .empty) }
        rows += snapshot.byDatabase.keys.sorted().map { ("database \($0)", snapshot.byDatabase[$0] ?? .empty) }
        // The bar's scale ends at twice the unhealthy band, so both bands are always in view.
        let scale = max(0.01, 2 * settings.unhealthyRatio)
        let degradedAt = Self.number(100 * settings.degradedRatio / scale)
        let unhealthyAt = Self.number(100 * settings.unhealthyRatio / scale)
        var html = """
        <h2>Slow share (last \(snapshot.windowSeconds) s, threshold \(Self.number(snapshot.thresholdMs)) ms)</h2>
        <table><thead><tr><th>scope</th><th class="num">queries</th><th class="num">slow</th><th class="num">share</th>
        <th class="bar-cell">against the \(Self.percent(settings.degradedRatio)) / \(Self.percent(settings.unhealthyRatio)) bands</th>
        <th class="num">p50 ms</th><th class="num">p90 ms</th><th class="num">p95 ms</th><th class="num">p99 ms</th></tr></thead><tbody>

        """
        for (name, summary) in rows {
            let ratio = summary.slowRatio
            let band = ratio > settings.unhealthyRatio ? "unhealthy" : (ratio >= settings.degradedRatio ? "degraded" : "healthy")
            let width = Self.number(min(100, 100 * ratio / scale))
            html += """
            <tr><td>\(Self.escape(name))</td><td class="num">\(summary.count)</td><td class="num">\(summary.slow)</td>
            <td class="num">\(Self.percent(ratio))</td>
            <td class="bar-cell"><div class="bar"><div class="fill \(band)" style="width:\(width)%"></div>\
            <div class="mark" style="left:\(degradedAt)%"></div><div class="mark bad" style="left:\(unhealthyAt)%"></div></div></td>
            <td class="num">\(Self.number(summary.p50Ms))</td><td class="num">\(Self.number(summary.p90Ms))</td>
            <td class="num">\(Self.number(summary.p95Ms))</td><td class="num">\(Self.number(summary.p99Ms))</td></tr>

            """
        }
        return html + "</tbody></table>\n"
    }

    private var fingerprints: String {
        var html = "<h2>Slowest statements (literals masked)</h2>\n"
        guard !snapshot.topSlow.isEmpty else { return html + "<p class=\"muted\">No statements recorded yet.</p>\n" }
        html += """
        <table><thead><tr><th>statement</th><th class="num">calls</th><th class="num">slow</th><th class="num">errors</th>
        <th class="num">avg ms</th><th class="num">p50 ms</th><th class="num">p99 ms</th><th class="num">max ms</th></tr></thead><tbody>

        """
        for entry in snapshot.topSlow.prefix(10) {
            html += """
            <tr class="fingerprint"><td><code>\(Self.escape(entry.fingerprint))</code></td><td class="num">\(entry.calls)</td>
            <td class="num">\(entry.slow)</td><td class="num">\(entry.errors)</td><td class="num">\(Self.number(entry.avgMs))</td>
            <td class="num">\(Self.number(entry.p50Ms))</td><td class="num">\(Self.number(entry.p99Ms))</td>
            <td class="num">\(Self.number(entry.maxMs))</td></tr>

            """
        }
        return html + "</tbody></table>\n"
    }

    private var poolTable: String {
        var html = "<h2>Pools</h2>\n"
        guard !pools.isEmpty else { return html + "<p class=\"muted\">No pools yet (one opens with a database's first client).</p>\n" }
        html += """
        <table><thead><tr><th>database</th><th>user</th><th>mode</th><th class="num">clients active</th>
        <th class="num">clients waiting</th><th class="num">servers active</th><th class="num">servers idle</th>
        <th class="num">servers used</th><th class="num">servers logging in</th><th class="num">longest wait s</th></tr></thead><tbody>

        """
        for row in pools {
            let waiting = Self.int(row["cl_waiting"])
            html += """
            <tr\(waiting > 0 ? " class=\"waiting\"" : "")><td>\(Self.escape(Self.text(row["database"])))</td>
            <td>\(Self.escape(Self.text(row["user"])))</td><td>\(Self.escape(Self.text(row["pool_mode"])))</td>
            <td class="num">\(Self.int(row["cl_active"]))</td><td class="num">\(waiting)</td>
            <td class="num">\(Self.int(row["sv_active"]))</td><td class="num">\(Self.int(row["sv_idle"]))</td>
            <td class="num">\(Self.int(row["sv_used"]))</td><td class="num">\(Self.int(row["sv_login"]))</td>
            <td class="num">\(Self.int(row["maxwait"]))</td></tr>

            """
        }
        return html + "</tbody></table>\n"
    }

    private var backendTable: String {
        var html = "<h2>Backends</h2>\n"
        guard !backends.isEmpty else { return html + "<p class=\"muted\">No backends configured.</p>\n" }
        html += """
        <table><thead><tr><th>database</th><th>backend</th><th>role</th><th>state</th><th class="num">lag ms</th></tr></thead><tbody>

        """
        for backend in backends {
            html += """
            <tr><td>\(Self.escape(backend.database))</td><td>\(Self.escape(backend.host)):\(backend.port)</td>
            <td>\(Self.escape(backend.role))</td><td><span class="badge \(backend.up ? "healthy" : "unhealthy")">\(backend.up ? "up" : "down")</span></td>
            <td class="num">\(backend.lagMs.map { Self.number($0) } ?? "–")</td></tr>

            """
        }
        return html + "</tbody></table>\n"
    }

    // MARK: formatting

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: abs(value) >= 100 ? "%.1f" : "%.2f", value)
    }

    static func percent(_ ratio: Double) -> String {
        number(100 * ratio) + " %"
    }

    private static func text(_ value: AdminValue?) -> String {
        switch value {
        case .string(let text)?: return text
        case .int(let number)?: return String(number)
        case .double(let value)?: return number(value)
        case .bool(let flag)?: return flag ? "yes" : "no"
        default: return ""
        }
    }

    private static func int(_ value: AdminValue?) -> Int64 {
        switch value {
        case .int(let number)?: return number
        case .double(let number)?: return Int64(number)
        case .string(let text)?: return Int64(text) ?? 0
        default: return 0
        }
    }
}
