import NIOCore
import NIOHTTP1
import PGRelayCore

/// Turns an endpoint into a response by asking the `AdminAPI`. No I/O of its own, so it is tested
/// with a fake API on an embedded event loop.
public struct AdminResponder: Sendable {
    private let api: AdminAPI

    /// Creates a responder over `api`.
    public init(api: AdminAPI) {
        self.api = api
    }

    /// The response to `endpoint`, completed on `eventLoop`.
    public func respond(to endpoint: AdminEndpoint, on eventLoop: EventLoop) -> EventLoopFuture<AdminResponse> {
        switch endpoint {
        case .dashboard:
            return api.listing(.pools).hop(to: eventLoop).map { [api] pools in
                let page = DashboardPage(snapshot: api.queryStats(), backends: api.healthBackends(), pools: pools,
                                         settings: api.queryHistory().settings)
                return AdminResponse(status: .ok, contentType: DashboardPage.contentType, body: Array(page.html.utf8),
                                     extraHeaders: DashboardPage.headers)
            }
        case .queryHistory:
            let history = api.queryHistory()
            return eventLoop.makeSucceededFuture(.json(QueryStatsJSON.history(history.points, settings: history.settings)))
        case .health:
            let snapshot = api.queryStats()
            let status: HTTPResponseStatus = snapshot.health == .unhealthy ? .serviceUnavailable : .ok
            return eventLoop.makeSucceededFuture(
                .json(QueryStatsJSON.health(snapshot, backends: api.healthBackends()), status: status))
        case .queryMetrics:
            return eventLoop.makeSucceededFuture(.json(QueryStatsJSON.queries(api.queryStats())))
        case .prometheusMetrics:
            return api.prometheusSamples().hop(to: eventLoop).map { [api] samples in
                let text = PrometheusExposition.render(api.queryStats(), extra: samples)
                return AdminResponse(status: .ok, contentType: PrometheusTextWriter.contentType, body: Array(text.utf8))
            }
        case let .listing(name):
            return api.listing(name).hop(to: eventLoop).map { .json(Self.listingJSON($0)) }
        case .reload:
            return command(api.reload(), on: eventLoop)
        case let .pause(database):
            return command(api.pause(database: database), on: eventLoop)
        case let .resume(database):
            return command(api.resume(database: database), on: eventLoop)
        }
    }

    /// Rows as a JSON array of objects; keys sorted, since a dictionary has no order of its own.
    static func listingJSON(_ rows: [[String: AdminValue]]) -> JSONValue {
        .array(rows.map { row in .object(row.keys.sorted().map { ($0, row[$0]?.json ?? .null) }) })
    }

    private func command(_ result: EventLoopFuture<String>, on eventLoop: EventLoop) -> EventLoopFuture<AdminResponse> {
        result.hop(to: eventLoop)
            .map { message in AdminResponse.json(.object([("status", .string("ok")), ("message", .string(message))])) }
            .recover { error in
                if let apiError = error as? AdminAPIError {
                    return .error(HTTPResponseStatus(statusCode: apiError.statusCode), apiError.message)
                }
                return .error(.internalServerError, String(describing: error))
            }
    }
}
