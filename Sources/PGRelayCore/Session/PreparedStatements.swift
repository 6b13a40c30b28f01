import NIOCore
import PGWire

/// A named prepared statement as a client created it, with the name the proxy uses for it on
/// servers. Server names are shared by every client that prepares the same text and types, so a
/// statement prepared on a server once serves them all.
public struct ClientStatement: Sendable {
    public var query: String
    public var parameterTypes: [UInt32]
    public var serverName: String
    /// The Parse message under the server name, ready to send to any server that lacks it.
    public var serverParse: ByteBuffer
}

/// The statements a server connection has prepared under server names, least recently used first
/// out when full.
///
/// It also remembers, for a while, names the server may still hold although the cache no longer
/// lists them: an evicted statement's Close is skipped when an error earlier in the same batch
/// makes the server skip to Sync, and a Parse reported failed may have been such a skipped one
/// too. Preparing one of those names again must Close it first, or PostgreSQL answers the Parse
/// with "prepared statement already exists".
public struct ServerStatementCache: Sendable {
    public let capacity: Int
    private var lastUse: [String: UInt64] = [:]
    /// Where the last statement found by `touchIfPresent` is in `lastUse`: a client binds the same
    /// statement at every execution, and comparing two short names is cheaper than hashing one.
    /// Every change to `lastUse` other than a new value at an index forgets it (indices move).
    private var lastTouched: (name: String, index: Dictionary<String, UInt64>.Index)?
    /// Names whose presence on the server is unknown, with the time they became so; at most
    /// `uncertainLimit`, newest kept.
    private var uncertain: [String: UInt64] = [:]
    private var uncertainLimit: Int { max(capacity, 128) }
    private var clock: UInt64 = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { lastUse.count }

    public func contains(_ name: String) -> Bool { lastUse[name] != nil }

    /// Whether the server may hold `name` although the cache does not list it: Close it before
    /// preparing it again.
    public func mayStillHold(_ name: String) -> Bool { uncertain[name] != nil }

    /// Marks `name` as just used, listing it if absent (without eviction: `insert` evicts first).
    private mutating func touch(_ name: String) {
        lastTouched = nil
        clock &+= 1
        lastUse[name] = clock
    }

    /// Marks `name` as just used when the cache holds it (one lookup, for every Bind of a
    /// prepared statement); false when it does not.
    public mutating func touchIfPresent(_ name: String) -> Bool {
        clock &+= 1
        if let last = lastTouched, last.name == name {
            lastUse.values[last.index] = clock
            return true
        }
        guard let index = lastUse.index(forKey: name) else { return false }
        lastUse.values[index] = clock
        lastTouched = (name, index)
        return true
    }

    /// Adds `name`; returns the names evicted to make room (to Close on the server).
    public mutating func insert(_ name: String) -> [String] {
        var evicted: [String] = []
        while lastUse.count >= capacity, lastUse[name] == nil {
            guard let oldest = lastUse.min(by: { $0.value < $1.value })?.key else { break }
            lastTouched = nil
            lastUse[oldest] = nil
            markUncertain(oldest)
            evicted.append(oldest)
        }
        uncertain[name] = nil
        touch(name)
        return evicted
    }

    /// Forgets `name` after a Parse of it did not run (or failed): the server's copy, if any, is
    /// of unknown state.
    public mutating func remove(_ name: String) {
        lastTouched = nil
        guard lastUse.removeValue(forKey: name) != nil else { return }
        markUncertain(name)
    }

    /// Forgets every statement after a DISCARD ALL or DEALLOCATE ALL. They stay "may still hold":
    /// such a command fails inside a transaction block (and a failed transaction refuses it), and
    /// the cost of being wrong is one extra Close per statement prepared again.
    public mutating func removeAll() {
        uncertain.merge(lastUse) { _, used in used }
        lastTouched = nil
        lastUse.removeAll()
        if uncertain.count > uncertainLimit {
            let newest = uncertain.sorted { $0.value > $1.value }.prefix(uncertainLimit)
            uncertain = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
        }
    }

    private mutating func markUncertain(_ name: String) {
        clock &+= 1
        uncertain[name] = clock
        if uncertain.count > uncertainLimit, let oldest = uncertain.min(by: { $0.value < $1.value })?.key {
            uncertain[oldest] = nil
        }
    }
}

/// Rewrites a transaction-pooled client's extended-protocol messages for whichever server it holds:
/// named statements are renamed to their server names, prepared again where the server lacks them,
/// and Parse/Close of statements the server already has are answered by the proxy. Every message
/// sent adds what the server owes to the `ResponsePipeline`.
public struct PreparedStatementRewriter {
    public private(set) var statements: [String: ClientStatement] = [:] {
        didSet { lastBound.forget() }
    }
    /// The server name of the statement the last renamed Bind named.
    private var lastBound = LastNamedLookup<String>()
    /// Parses of a statement sent to a server (PgBouncer's server_parse_count): once per server
    /// and statement, however many clients prepare it.
    public private(set) var serverParses: UInt64 = 0
    private let allocator = ByteBufferAllocator()

    public init() {}

    public enum Outcome {
        /// Send the frame unchanged.
        case passThrough
        /// Send these bytes instead (may be empty when the proxy answers everything itself).
        case rewritten(ByteBuffer)
    }

    /// Handles one client frame for a server whose cache is `cache`. `nameFor` gives the shared
    /// server name of a (query, parameter types) pair.
    public mutating func handle(_ frame: Frame, cache: inout ServerStatementCache, pipeline: inout ResponsePipeline,
                                nameFor: (String, [UInt32]) -> String) throws -> Outcome {
        // Nothing to rename for the unnamed statement (what most drivers use) or a portal: no
        // decode. Execute and Sync name no statement: no peek either.
        let names = frame.type == FrontendType.parse || frame.type == FrontendType.bind
            || frame.type == FrontendType.describe || frame.type == FrontendType.close
        let peeked = names ? StatementNamePeek.target(of: frame) : .other
        let unnamed = peeked == .unnamedStatement
        func passThrough(_ kind: ResponsePipeline.Expectation) -> Outcome {
            pipeline.append(.forward(kind, serverStatement: nil))
            return .passThrough
        }
        switch frame.type {
        case FrontendType.parse:
            guard !unnamed, case .parse(let parse)? = try FrontendMessage.decode(frame), !parse.name.isEmpty else {
                return passThrough(.parse)
            }
            let serverName = nameFor(parse.query, parse.parameterTypes)
            var serverParse = allocator.buffer(capacity: parse.query.utf8.count + serverName.utf8.count + 16)
            serverParse.writeFrontendMessage(.parse(.init(name: serverName, query: parse.query, parameterTypes: parse.parameterTypes)))
            statements[parse.name] = ClientStatement(query: parse.query, parameterTypes: parse.parameterTypes,
                                                     serverName: serverName, serverParse: serverParse)
            var out = allocator.buffer(capacity: 0)
            if cache.touchIfPresent(serverName) {
                var complete = allocator.buffer(capacity: 5)
                complete.writeEmptyBackendMessage(BackendType.parseComplete)
                pipeline.append(.fake(complete))
            } else {
                prepare(serverName, parse: serverParse, cache: &cache, pipeline: &pipeline, out: &out, swallow: false)
            }
            return .rewritten(out)
        case FrontendType.bind:
            if unnamed { return passThrough(.bind) }
            return try frame.bytes.withUnsafeReadableBytes { bytes in
                guard let name = StatementNamePeek.boundStatement(frameBytes: bytes) else {
                    // Unterminated names: the decoder's error, as for every other malformed frame.
                    _ = try FrontendMessage.decode(frame)
                    return passThrough(.bind)
                }
                guard let serverName = serverName(boundAs: UnsafeRawBufferPointer(rebasing: bytes[name])) else {
                    return passThrough(.bind)
                }
                var out = allocator.buffer(capacity: bytes.count + 16)
                if !cache.touchIfPresent(serverName) {
                    let clientName = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[name]), as: UTF8.self)
                    prepare(serverName, parse: statements[clientName]!.serverParse, cache: &cache, pipeline: &pipeline,
                            out: &out, swallow: true)
                }
                out.writeBind(bytes, renaming: name, to: serverName)
                pipeline.append(.forward(.bind, serverStatement: nil))
                return .rewritten(out)
            }
        case FrontendType.describe:
            if unnamed { return passThrough(.describeStatement) }
            if peeked == .portal { return passThrough(.describePortal) }
            guard case .describe(let target)? = try FrontendMessage.decode(frame), target.kind == .statement else {
                return passThrough(.describePortal)
            }
            guard !target.name.isEmpty, let statement = statements[target.name] else {
                return passThrough(.describeStatement)
            }
            var out = allocator.buffer(capacity: 64)
            ensurePrepared(statement, cache: &cache, pipeline: &pipeline, out: &out)
            out.writeFrontendMessage(.describe(.init(kind: .statement, name: statement.serverName)))
            pipeline.append(.forward(.describeStatement, serverStatement: nil))
            return .rewritten(out)
        case FrontendType.close:
            guard !unnamed, peeked != .portal, case .close(let target)? = try FrontendMessage.decode(frame),
                  target.kind == .statement, !target.name.isEmpty else {
                return passThrough(.close)
            }
            // The server keeps its copy for other clients; the client sees the close it asked for.
            // Closing a name that does not exist is not an error in PostgreSQL either.
            statements[target.name] = nil
            var complete = allocator.buffer(capacity: 5)
            complete.writeEmptyBackendMessage(BackendType.closeComplete)
            pipeline.append(.fake(complete))
            return .rewritten(allocator.buffer(capacity: 0))
        case FrontendType.execute:
            pipeline.append(.forward(.execute, serverStatement: nil))
            return .passThrough
        case FrontendType.sync, FrontendType.query, FrontendType.functionCall:
            pipeline.append(.forward(.ready, serverStatement: nil))
            return .passThrough
        default:
            return .passThrough
        }
    }

    /// DEALLOCATE name / DEALLOCATE ALL sent as a simple Query: the proxy forgets the client's
    /// statements and answers itself (the server never knew them by these names).
    public mutating func deallocate(_ target: DeallocateTarget, pipeline: inout ResponsePipeline) -> Bool {
        let tag: String
        switch target {
        case .none: return false
        case .name(let name):
            // In a failed transaction PostgreSQL refuses DEALLOCATE too (25P02, and the statement
            // stays): let the server give that answer.
            if pipeline.isEmpty, pipeline.status == .failed { return false }
            guard statements.removeValue(forKey: name) != nil else { return false }
            tag = "DEALLOCATE"
        case .all:
            if pipeline.isEmpty, pipeline.status == .failed { return false }
            statements.removeAll()
            tag = "DEALLOCATE ALL"
        }
        var complete = allocator.buffer(capacity: 32)
        complete.writeCommandComplete(tag)
        pipeline.append(.fake(complete))
        pipeline.append(.fakeReady)
        return true
    }

    /// Records a named Parse without any server: the proxy answers ParseComplete itself and the
    /// statement is prepared on a server at its first Bind or Describe. Used for Parse+Sync batches
    /// sent outside a transaction (libpq's PQprepare), so that preparing never waits for a server.
    /// Returns false for an unnamed Parse (it must reach a server).
    public mutating func registerWithoutServer(_ frame: Frame, nameFor: (String, [UInt32]) -> String) throws -> Bool {
        guard case .parse(let parse)? = try FrontendMessage.decode(frame), !parse.name.isEmpty else { return false }
        let serverName = nameFor(parse.query, parse.parameterTypes)
        var serverParse = allocator.buffer(capacity: parse.query.utf8.count + serverName.utf8.count + 16)
        serverParse.writeFrontendMessage(.parse(.init(name: serverName, query: parse.query, parameterTypes: parse.parameterTypes)))
        statements[parse.name] = ClientStatement(query: parse.query, parameterTypes: parse.parameterTypes,
                                                 serverName: serverName, serverParse: serverParse)
        return true
    }

    /// DISCARD ALL reached the client's statements too.
    public mutating func forgetAll() {
        statements.removeAll()
    }

    /// The server name of the client statement a Bind names; nil for a name the client never
    /// prepared (the server answers that Bind with its own error).
    private mutating func serverName(boundAs clientName: UnsafeRawBufferPointer) -> String? {
        if let serverName = lastBound.value(named: clientName) { return serverName }
        guard let statement = statements[String(decoding: clientName, as: UTF8.self)] else { return nil }
        lastBound.remember(statement.serverName, named: clientName)
        return statement.serverName
    }

    private mutating func ensurePrepared(_ statement: ClientStatement, cache: inout ServerStatementCache,
                                pipeline: inout ResponsePipeline, out: inout ByteBuffer) {
        if !cache.touchIfPresent(statement.serverName) {
            prepare(statement.serverName, parse: statement.serverParse, cache: &cache, pipeline: &pipeline, out: &out, swallow: true)
        }
    }

    private mutating func prepare(_ serverName: String, parse: ByteBuffer, cache: inout ServerStatementCache,
                         pipeline: inout ResponsePipeline, out: inout ByteBuffer, swallow: Bool) {
        serverParses &+= 1
        let closeFirst = cache.mayStillHold(serverName)
        for evicted in cache.insert(serverName) {
            out.writeFrontendMessage(.close(.init(kind: .statement, name: evicted)))
            pipeline.append(.swallow(.close, serverStatement: nil))
        }
        if closeFirst {
            out.writeFrontendMessage(.close(.init(kind: .statement, name: serverName)))
            pipeline.append(.swallow(.close, serverStatement: nil))
        }
        var parse = parse
        out.writeBuffer(&parse)
        pipeline.append(swallow ? .swallow(.parse, serverStatement: serverName) : .forward(.parse, serverStatement: serverName))
    }
}
