import PGRelayCore

/// The pool, client and server figures of `/metrics`, after the query statistics. Names start
/// with `pgrelay_pool_`, `pgrelay_clients` or `pgrelay_backend_` so that none clashes with the
/// statistics families (`PrometheusExposition.ownFamilies`, e.g. `pgrelay_queries_total`).
enum AdminMetrics {
    static func samples(_ runtime: ProxyRuntime, _ views: AdminViews) -> [PrometheusSample] {
        var samples: [PrometheusSample] = []
        var clientStates: [String: Int] = ["active": 0, "idle": 0, "waiting": 0, "login": 0]
        for client in views.clients { clientStates[client.state, default: 0] += 1 }
        for state in clientStates.keys.sorted() {
            samples.append(PrometheusSample(name: "pgrelay_clients", help: "Client connections by state.", type: .gauge,
                                            labels: [("state", state)], value: Double(clientStates[state] ?? 0)))
        }
        let pools = runtime.allPools()
        for pool in pools {
            let labels = [("database", pool.key.database), ("user", pool.key.user)]
            let counts = pool.counts()
            for (state, value) in [("active", counts.active), ("idle", counts.idle), ("used", counts.busy), ("login", counts.connecting)] {
                samples.append(PrometheusSample(name: "pgrelay_pool_servers", help: "Server connections by pool and state.", type: .gauge,
                                                labels: labels + [("state", state)], value: Double(value)))
            }
        }
        for pool in pools {
            samples.append(PrometheusSample(name: "pgrelay_pool_waiting_clients", help: "Clients waiting for a server.", type: .gauge,
                                            labels: [("database", pool.key.database), ("user", pool.key.user)],
                                            value: Double(pool.counts().waiting)))
        }
        for pool in pools {
            samples.append(PrometheusSample(name: "pgrelay_pool_max_wait_seconds", help: "How long the oldest waiting client has waited.",
                                            type: .gauge, labels: [("database", pool.key.database), ("user", pool.key.user)],
                                            value: Double(pool.counts().maxWaitNanos) / 1e9))
        }
        samples += counterSamples(runtime.countersByDatabase())
        let discovered = runtime.routing.snapshot.databases.compactMap { name, backends in backends.discovery.map { (name, $0.failovers) } }
        samples += routingSamples(runtime.backendRoutes(), counters: runtime.routing.counters,
                                  failovers: discovered.sorted { $0.0 < $1.0 })
        samples.append(PrometheusSample(name: "pgrelay_paused", help: "1 while PAUSE (all databases) is in effect.", type: .gauge,
                                        value: runtime.isPausedAll ? 1 : 0))
        samples += roleMismatchSamples(runtime.backendRoutes())
        samples += rateLimitSamples(runtime.rateLimits.allBuckets)
        samples += traceSamples(runtime.spanExporter)
        return samples
    }

    /// PgBouncer's SHOW STATS counters per database, as Prometheus counters.
    static func counterSamples(_ byDatabase: [(database: String, counters: PoolCounters)]) -> [PrometheusSample] {
        let families: [(String, String, Double, (PoolCounters) -> UInt64)] = [
            ("pgrelay_pool_server_assignments_total", "Servers handed to clients.", 1, { $0.serverAssignments }),
            ("pgrelay_pool_transactions_total", "Transactions pooled (SHOW STATS xact_count).", 1, { $0.transactions }),
            ("pgrelay_pool_queries_total", "Requests pooled (SHOW STATS query_count).", 1, { $0.queries }),
            ("pgrelay_pool_received_bytes_total", "Bytes received from clients.", 1, { $0.bytesReceived }),
            ("pgrelay_pool_sent_bytes_total", "Bytes sent to clients.", 1, { $0.bytesSent }),
            ("pgrelay_pool_transaction_seconds_total", "Time spent in transactions.", 1e-6, { $0.transactionMicros }),
            ("pgrelay_pool_query_seconds_total", "Time spent in queries.", 1e-6, { $0.queryMicros }),
            ("pgrelay_pool_wait_seconds_total", "Time clients waited for a server.", 1e-6, { $0.waitMicros }),
        ]
        var samples: [PrometheusSample] = []
        for (name, help, scale, value) in families {
            for (database, counters) in byDatabase {
                samples.append(PrometheusSample(name: name, help: help, type: .counter, labels: [("database", database)],
                                                value: Double(value(counters)) * scale))
            }
        }
        return samples
    }

    /// Backend health and the router's counters.
    static func routingSamples(_ routes: [BackendRoute], counters: RoutingCounters,
                               failovers: [(String, UInt64)] = []) -> [PrometheusSample] {
        func labels(_ route: BackendRoute) -> [(String, String)] {
            [("database", route.database), ("backend", "\(route.address.host):\(route.address.port)"), ("role", route.role.rawValue)]
        }
        var samples: [PrometheusSample] = []
        for route in routes {
            samples.append(PrometheusSample(name: "pgrelay_backend_up", help: "1 when the backend is up, 0 when down.", type: .gauge,
                                            labels: labels(route), value: route.isUp ? 1 : 0))
        }
        for route in routes {
            guard let lag = route.lagMs else { continue }
            samples.append(PrometheusSample(name: "pgrelay_backend_lag_seconds", help: "Replication lag of a replica at its last check.",
                                            type: .gauge, labels: labels(route), value: lag / 1000))
        }
        for route in routes {
            samples.append(PrometheusSample(name: "pgrelay_routed_queries_total", help: "Statements routed to the backend.", type: .counter,
                                            labels: labels(route), value: Double(counters.queriesPerBackend[route.id] ?? 0)))
        }
        for route in routes {
            samples.append(PrometheusSample(name: "pgrelay_backend_bans_total", help: "Times the backend was kept from reads after a failed read.",
                                            type: .counter, labels: labels(route), value: Double(counters.bans[route.id] ?? 0)))
        }
        let databases = Array(Set(routes.map(\.database))).sorted()
        for (database, discovery) in failovers {
            samples.append(PrometheusSample(name: "pgrelay_failovers_total",
                                            help: "Times a hosts= database's writes moved to another server (failover or switchover).",
                                            type: .counter, labels: [("database", database)], value: Double(discovery)))
        }
        for database in databases {
            samples.append(PrometheusSample(name: "pgrelay_read_fallbacks_total", help: "Reads sent to the primary because no replica was healthy.",
                                            type: .counter, labels: [("database", database)], value: Double(counters.fallbacks[database] ?? 0)))
        }
        for database in databases {
            samples.append(PrometheusSample(name: "pgrelay_read_retries_total", help: "Reads retried on another backend after their replica failed.",
                                            type: .counter, labels: [("database", database)], value: Double(counters.retries[database] ?? 0)))
        }
        return samples
    }
}
