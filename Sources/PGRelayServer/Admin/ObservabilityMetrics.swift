import PGRelayCore

/// `/metrics` families of query rate limits, span export, and the failover signal of the
/// health checker.
extension AdminMetrics {
    /// 1 while the health checker finds a backend in another role than the configuration gives
    /// it (a replica promoted, a primary in recovery): the trace of a failover.
    static func roleMismatchSamples(_ routes: [BackendRoute]) -> [PrometheusSample] {
        routes.filter { $0.checked != nil }.map { route in
            PrometheusSample(name: "pgrelay_backend_role_mismatch",
                             help: "1 when a checked backend is not in its configured role (promoted replica, primary in recovery).",
                             type: .gauge,
                             labels: [("database", route.database), ("backend", "\(route.address.host):\(route.address.port)"),
                                      ("role", route.role.rawValue)],
                             value: route.checked?.status == .wrongRole ? 1 : 0)
        }
    }

    static func rateLimitSamples(_ buckets: [QueryRateBucket]) -> [PrometheusSample] {
        func labels(_ bucket: QueryRateBucket) -> [(String, String)] { [("scope", bucket.scope.rawValue), ("name", bucket.name)] }
        var samples: [PrometheusSample] = []
        for bucket in buckets {
            samples.append(PrometheusSample(name: "pgrelay_rate_limit_queries_per_second", help: "Configured query rate limit.",
                                            type: .gauge, labels: labels(bucket), value: bucket.rate.perSecond))
        }
        for bucket in buckets {
            samples.append(PrometheusSample(name: "pgrelay_rate_limit_delayed_total", help: "Queries that waited for their turn under a rate limit.",
                                            type: .counter, labels: labels(bucket), value: Double(bucket.delayed)))
        }
        for bucket in buckets {
            samples.append(PrometheusSample(name: "pgrelay_rate_limit_refused_total", help: "Queries refused with SQLSTATE 53400 by a rate limit.",
                                            type: .counter, labels: labels(bucket), value: Double(bucket.refused)))
        }
        return samples
    }

    static func traceSamples(_ exporter: SpanExporter) -> [PrometheusSample] {
        var samples: [PrometheusSample] = []
        for (outcome, value) in [("exported", exporter.exported), ("dropped", exporter.dropped), ("failed", exporter.failed)] {
            samples.append(PrometheusSample(name: "pgrelay_trace_spans_total",
                                            help: "Query spans by outcome: exported, dropped (queue full) or failed (export error).",
                                            type: .counter, labels: [("outcome", outcome)], value: Double(value)))
        }
        samples.append(PrometheusSample(name: "pgrelay_trace_queue_spans", help: "Spans waiting for export.", type: .gauge,
                                        value: Double(exporter.queued)))
        return samples
    }
}
