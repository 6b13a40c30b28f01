import NIOCore
import PGRelayCore

/// The HTTP admin API over the running proxy: the same data as the console's SHOW commands and
/// the same commands as its RELOAD / PAUSE / RESUME.
final class ProxyAdminAPI: AdminAPI, @unchecked Sendable {
    private weak var server: ProxyServer?
    private let runtime: ProxyRuntime

    init(server: ProxyServer) {
        self.server = server
        self.runtime = server.runtime
    }

    func queryStats() -> QueryStatsSnapshot {
        runtime.stats.snapshot()
    }

    func healthBackends() -> [BackendHealth] {
        runtime.backendHealth()
    }

    func queryHistory() -> (points: [QueryHistoryPoint], settings: StatsSettings) {
        (runtime.history.points, runtime.stats.settings)
    }

    func listing(_ name: AdminListing) -> EventLoopFuture<[[String: AdminValue]]> {
        let runtime = runtime
        return runtime.adminViews(on: runtime.group.next()).map { views in
            let table: ConsoleTable
            switch name {
            case .pools: table = ConsoleTables.pools(runtime, views)
            case .servers: table = ConsoleTables.servers(views, routing: runtime.routing.snapshot)
            case .clients: table = ConsoleTables.clients(runtime, views)
            case .databases: table = ConsoleTables.databases(runtime, views)
            case .config: table = ConsoleTables.config(runtime.config)
            case .backends: table = ConsoleTables.routes(runtime)
            }
            return table.adminRows
        }
    }

    func prometheusSamples() -> EventLoopFuture<[PrometheusSample]> {
        let runtime = runtime
        return runtime.adminViews(on: runtime.group.next()).map { AdminMetrics.samples(runtime, $0) }
    }

    func reload() -> EventLoopFuture<String> {
        let loop = runtime.group.next()
        guard let server else { return loop.makeFailedFuture(AdminAPIError(statusCode: 503, message: "shutting down")) }
        switch server.reload() {
        case .success(let warnings):
            return loop.makeSucceededFuture(warnings.isEmpty ? "reloaded" : "reloaded with warnings: " + warnings.joined(separator: "; "))
        case .failure(let error):
            return loop.makeFailedFuture(AdminAPIError(statusCode: 422, message: "reload failed, the running configuration is kept: \(error)"))
        }
    }

    func pause(database: String?) -> EventLoopFuture<String> {
        do {
            return try runtime.pause(database: database).map { "paused \(database ?? "all databases")" }
        } catch {
            return runtime.group.next().makeFailedFuture(Self.apiError(error))
        }
    }

    func resume(database: String?) -> EventLoopFuture<String> {
        let loop = runtime.group.next()
        do {
            try runtime.resume(database: database)
            return loop.makeSucceededFuture("resumed \(database ?? "all databases")")
        } catch {
            return loop.makeFailedFuture(Self.apiError(error))
        }
    }

    private static func apiError(_ error: Error) -> Error {
        guard let error = error as? ConsoleError else { return error }
        return AdminAPIError(statusCode: error.isNotFound ? 404 : 400, message: error.message)
    }
}
