import NIOCore
import PGRelayCore
import PGWire

/// The admin commands shared by the console, the HTTP API and the signals: PAUSE/RESUME,
/// DISABLE/ENABLE, RECONNECT, KILL, KILL_CLIENT and WAIT_CLOSE.
extension ProxyRuntime {
    /// How often the commands that wait look again.
    static let adminPollInterval = TimeAmount.milliseconds(50)

    /// The pools a command about `database` (nil: every database) acts on. Throws for a name that
    /// is neither configured nor served.
    func pools(forCommandOn database: String?) throws -> [ServerPool] {
        let pools = allPools()
        guard let database else { return pools }
        try checkKnown(database: database)
        return pools.filter { $0.key.database == database }
    }

    func checkKnown(database: String) throws {
        let configured = config.databases.contains { $0.name == database && !$0.isFallback }
        guard configured || allPools().contains(where: { $0.key.database == database }) else {
            throw ConsoleError.noSuchDatabase(database)
        }
    }

    /// PAUSE: new requests wait in their pool; the future completes once no server of the paused
    /// pools is lent (transaction and statement mode: every running transaction has ended).
    func pause(database: String?) throws -> EventLoopFuture<Void> {
        try checkDatabaseArgument(database)
        setPaused(true, database: database)
        logger.info("pausing", metadata: ["database": "\(database ?? "*")"])
        return waitUntil { [self] in
            guard database == nil ? isPausedAll : isPaused(database: database!) else { return true } // resumed meanwhile
            let pools = (try? self.pools(forCommandOn: database)) ?? []
            return pools.allSatisfy { let counts = $0.counts(); return counts.active == 0 && counts.busy == 0 }
        }
    }

    /// RESUME: waiting requests get servers again.
    func resume(database: String?) throws {
        if isShuttingDown { throw ConsoleError(sqlState: "08P01", message: "pooler is shutting down") }
        try checkDatabaseArgument(database)
        setPaused(false, database: database)
        logger.info("resumed", metadata: ["database": "\(database ?? "*")"])
        for pool in try pools(forCommandOn: database) { pool.resumeWaiters() }
    }

    /// DISABLE / ENABLE: new client logins to the database are refused while disabled.
    func disable(_ disabled: Bool, database: String) throws {
        try checkKnown(database: database)
        setDisabled(disabled, database: database)
    }

    /// RECONNECT: idle servers close now, lent ones when they come back.
    func reconnect(database: String?) throws {
        for pool in try pools(forCommandOn: database) { pool.closeAllWhenReleased() }
    }

    /// KILL: the database's clients get an error and are disconnected, its servers close, and new
    /// requests wait until RESUME (PgBouncer's semantics).
    func kill(database: String?) throws {
        try checkDatabaseArgument(database)
        setPaused(true, database: database)
        for client in allClients() {
            // Decided on the client's loop, where its console link and database are set.
            client.onLoop {
                guard client.console == nil, database == nil || client.database == database else { return }
                client.fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "database killed by an admin"))
            }
        }
        for pool in try pools(forCommandOn: database) { pool.closeAllWhenReleased() }
        logger.info("killed", metadata: ["database": "\(database ?? "*")"])
    }

    /// KILL_CLIENT: disconnects one client (by the id SHOW CLIENTS lists).
    func killClient(id: UInt64) throws {
        guard let client = allClients().first(where: { $0.id == id }) else {
            throw ConsoleError(message: "client not found", isNotFound: true)
        }
        client.onLoop { client.fatal(ErrorFields(severity: "FATAL", sqlState: "08P01", message: "client killed by an admin")) }
    }

    /// WAIT_CLOSE: completes when the servers RECONNECT or KILL marked have closed.
    func waitClose(database: String?) throws -> EventLoopFuture<Void> {
        let pools = try pools(forCommandOn: database)
        return waitUntil { pools.allSatisfy { $0.serversMarkedForClose == 0 } }
    }

    /// Polls `condition` on one of the proxy's loops until it holds (or the proxy shuts down).
    func waitUntil(_ condition: @escaping () -> Bool) -> EventLoopFuture<Void> {
        let loop = group.next()
        let promise = loop.makePromise(of: Void.self)
        func check() {
            if condition() || isShuttingDown {
                promise.succeed(())
            } else {
                loop.scheduleTask(in: Self.adminPollInterval) { check() }
            }
        }
        loop.execute { check() }
        return promise.futureResult
    }

    private func checkDatabaseArgument(_ database: String?) throws {
        if let database { try checkKnown(database: database) }
    }
}
