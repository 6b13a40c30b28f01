/// Where a statement was sent.
public enum Route: String, Sendable, Hashable, CaseIterable {
    case primary
    case replica
}

/// Routing counters since start: what the metrics issue exposes and the router logs.
public struct RoutingCounters: Sendable, Equatable {
    /// Statements sent, per route.
    public var queriesPerRoute: [Route: UInt64] = [:]
    /// Statements sent, per backend.
    public var queriesPerBackend: [BackendID: UInt64] = [:]
    /// Reads sent to the primary because no replica was healthy, per `[databases]` entry name.
    public var fallbacks: [String: UInt64] = [:]
    /// Reads retried on another backend after their replica failed, per database.
    public var retries: [String: UInt64] = [:]
    /// Bans (a backend kept from reads after a failed read), per backend.
    public var bans: [BackendID: UInt64] = [:]

    public init() {}

    /// Sum of `fallbacks` over all databases.
    public var totalFallbacks: UInt64 { fallbacks.values.reduce(0, &+) }
    /// Sum of `retries` over all databases.
    public var totalRetries: UInt64 { retries.values.reduce(0, &+) }
    /// Sum of `bans` over all backends.
    public var totalBans: UInt64 { bans.values.reduce(0, &+) }
}
