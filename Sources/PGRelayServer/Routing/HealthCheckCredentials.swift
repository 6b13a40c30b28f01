import PGRelayCore

extension ProxyRuntime {
    /// Who the replica health checks of `entry` log in as now (``HealthCheckLogin``), with the
    /// SCRAM keys client logins have recovered so far.
    func healthCheckPlan(for entry: DatabaseConfig) -> HealthCheckLogin.Plan {
        HealthCheckLogin.plan(for: entry, config: config, secrets: secrets, scramKeys: { self.scramKeys(for: $0) })
    }
}
