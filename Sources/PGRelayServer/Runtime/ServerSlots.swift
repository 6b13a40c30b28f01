import NIOConcurrencyHelpers
import NIOCore
import PGRelayCore

/// Counts open server connections per database and per user across all pools, for
/// max_db_connections and max_user_connections.
struct ServerSlotCounter {
    private(set) var perDatabase: [String: Int] = [:]
    private(set) var perUser: [String: Int] = [:]

    mutating func reserve(database: String, user: String, maxDB: Int, maxUser: Int) -> Bool {
        if maxDB > 0, perDatabase[database, default: 0] >= maxDB { return false }
        if maxUser > 0, perUser[user, default: 0] >= maxUser { return false }
        perDatabase[database, default: 0] += 1
        perUser[user, default: 0] += 1
        return true
    }

    mutating func release(database: String, user: String) {
        if let n = perDatabase[database], n > 0 { perDatabase[database] = n - 1 }
        if let n = perUser[user], n > 0 { perUser[user] = n - 1 }
    }
}

extension ProxyRuntime {
    /// A slot for one more server of `database` and `user` under the pool's max_db_connections
    /// and max_user_connections (resolved as PgBouncer's: per entry above 0, else global).
    func reserveServerSlot(database: String, user: String, settings: PoolSettings) -> Bool {
        slots.withLockedValue {
            $0.reserve(database: database, user: user, maxDB: settings.maxDBConnections, maxUser: settings.maxUserConnections)
        }
    }

    /// Evicts the idle server used longest ago among the other pools that count against the same
    /// max_db_connections (same database) or max_user_connections (same user) as `pool`.
    func evictIdleServer(sharingLimitsWith pool: ServerPool) -> Bool {
        let settings = pool.settings
        let candidates = allPools().compactMap { other -> (ServerPool, NIODeadline)? in
            guard other !== pool, (settings.maxDBConnections > 0 && other.key.database == pool.key.database)
                    || (settings.maxUserConnections > 0 && other.key.user == pool.key.user),
                  let since = other.oldestIdleSince else { return nil }
            return (other, since)
        }
        for (other, _) in candidates.sorted(by: { $0.1 < $1.1 }) where other.evictOldestIdle() { return true }
        return false
    }

    func releaseServerSlot(database: String, user: String) {
        slots.withLockedValue { $0.release(database: database, user: user) }
    }
}
