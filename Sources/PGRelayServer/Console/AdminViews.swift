import Foundation
import NIOCore
import PGRelayCore

/// What the admin views (SHOW POOLS/SERVERS/CLIENTS/SOCKETS/LISTS/DATABASES/USERS, `/clients`,
/// `/servers`, `/metrics`) show of the live clients and servers. Each connection's fields are read
/// on its own event loop, where they change: read from the console's or the HTTP server's thread
/// they would race with the connection (a String or a state enum read while being written).
struct AdminViews {
    var clients: [ClientView]
    var servers: [ServerView]

    /// For describing a table's columns: no rows.
    static let empty = AdminViews(clients: [], servers: [])
}

/// One client, as read on its loop.
struct ClientView {
    let id: UInt64
    let user: String
    let database: String
    /// active, idle, waiting or login (console clients are active, as in PgBouncer).
    let state: String
    let pool: ServerPool?
    let isUnixSocket: Bool
    let remote: SocketAddress?
    let local: SocketAddress?
    let connectedAtWall: Date
    let lastRequestAt: NIODeadline
    let waitStarted: NIODeadline?
    let linkedServerID: UInt64?
    let tls: String
    let applicationName: String
}

/// One server connection, as read on its loop; `state` and `closeNeeded` come from its pool.
struct ServerView {
    let pool: ServerPool
    let id: UInt64
    let state: String
    let closeNeeded: Bool
    let address: BackendAddress
    let local: SocketAddress?
    let createdAt: NIODeadline
    let lastCheckedOrUsed: NIODeadline
    let linkedClientID: UInt64?
    let backendPID: Int32
    let tls: String
}

extension ProxyRuntime {
    /// Every client and server, each read on its own loop; completes on `loop`. Taken once
    /// every reactor has handled what reached its sockets before the request (`settled`).
    func adminViews(on loop: EventLoop) -> EventLoopFuture<AdminViews> {
        settled(on: loop).flatMap { [self] in takeAdminViews(on: loop) }
    }

    /// Completes on `loop` once every reactor has been through a wait for its sockets' events
    /// that began after this call. A client that closes its connection and at once asks
    /// another connection for SHOW CLIENTS (a monitoring script, PgBouncer's own tests) must
    /// not be listed: its close is already in the kernel, but its reactor may not have read it
    /// yet. PgBouncer, one thread, reads the two sockets in order; pgrelay's reactors each
    /// run a task twice over: a task's follow-up runs a turn later, after that turn's epoll
    /// wait and the events it reported.
    func settled(on loop: EventLoop) -> EventLoopFuture<Void> {
        let turns = group.makeIterator().map { reactor in
            reactor.flatSubmit { reactor.submit {} }
        }
        return EventLoopFuture.andAllSucceed(turns, on: loop)
    }

    private func takeAdminViews(on loop: EventLoop) -> EventLoopFuture<AdminViews> {
        let clients = Self.onTheirLoops(allClients(), loopOf: \.loop, on: loop) { $0.adminView() }
        var servers: [(pool: ServerPool, server: ServerConnection, state: String)] = []
        for pool in allPools() {
            for (server, state) in pool.serverStates() { servers.append((pool, server, state)) }
        }
        let serverViews = Self.onTheirLoops(servers, loopOf: \.server.loop, on: loop) { entry in
            entry.server.adminView(pool: entry.pool, state: entry.state, closeNeeded: entry.pool.isMarkedForClose(entry.server))
        }
        return clients.and(serverViews).map { clients, servers in
            AdminViews(clients: clients.sorted { $0.id < $1.id }, servers: servers.sorted { $0.id < $1.id })
        }
    }

    /// `read` applied to each item on the item's loop, one task per loop.
    private static func onTheirLoops<Item, View>(_ items: [Item], loopOf: (Item) -> EventLoop, on loop: EventLoop,
                                                 read: @escaping (Item) -> View) -> EventLoopFuture<[View]> {
        var groups: [ObjectIdentifier: (loop: EventLoop, items: [Item])] = [:]
        for item in items {
            let itemLoop = loopOf(item)
            groups[ObjectIdentifier(itemLoop), default: (itemLoop, [])].items.append(item)
        }
        let reads = groups.values.map { group in group.loop.submit { group.items.map(read) } }
        return EventLoopFuture.whenAllSucceed(reads, on: loop).map { $0.flatMap { $0 } }
    }
}

extension ClientSession {
    /// This client's admin view; on its loop only.
    func adminView() -> ClientView {
        assert(loop.inEventLoop)
        return ClientView(
            id: id, user: user, database: database, state: console != nil ? "active" : stateDescription, pool: pool,
            isUnixSocket: isUnixSocket, remote: transport.remoteAddress, local: transport.localAddress,
            connectedAtWall: connectedAtWall, lastRequestAt: lastRequestAt, waitStarted: waitStarted,
            linkedServerID: linkedServerID, tls: tlsDescription, applicationName: applicationName)
    }
}

extension ServerConnection {
    /// This server's admin view; on its loop only.
    func adminView(pool: ServerPool, state: String, closeNeeded: Bool) -> ServerView {
        assert(loop.inEventLoop)
        return ServerView(
            pool: pool, id: id, state: state, closeNeeded: closeNeeded, address: address, local: transport?.localAddress,
            createdAt: createdAt, lastCheckedOrUsed: lastCheckedOrUsed, linkedClientID: linkedClientID,
            backendPID: backendKey?.processID ?? 0, tls: tlsDescription)
    }
}
