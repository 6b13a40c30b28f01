/// Health of the proxy as judged by the share of slow queries in the rolling window.
public enum HealthStatus: String, Sendable, CaseIterable {
    case healthy
    case degraded
    case unhealthy

    /// The value of the `pgrelay_health_status` gauge: 0 healthy, 1 degraded, 2 unhealthy.
    public var gaugeValue: Int {
        switch self {
        case .healthy: return 0
        case .degraded: return 1
        case .unhealthy: return 2
        }
    }
}

/// The health bands of INTERFACE.md as a pure function.
public enum HealthPolicy {
    /// Healthy below `degraded`, degraded from `degraded` up to and including `unhealthy`,
    /// unhealthy above `unhealthy`. A window without queries is healthy.
    public static func status(slow: UInt64, total: UInt64, degraded: Double, unhealthy: Double) -> HealthStatus {
        guard total > 0 else { return .healthy }
        return status(slowRatio: Double(slow) / Double(total), degraded: degraded, unhealthy: unhealthy)
    }

    /// The same bands for a ratio already computed (NaN counts as healthy: no data).
    public static func status(slowRatio: Double, degraded: Double, unhealthy: Double) -> HealthStatus {
        if slowRatio.isNaN || slowRatio < degraded { return .healthy }
        if slowRatio <= unhealthy { return .degraded }
        return .unhealthy
    }
}
