/// Where the router sent a statement.
public enum QueryRoute: String, CaseIterable, Sendable {
    case primary
    case replica
}

/// One finished query, as the server hands it to its event loop's `QueryStatsShard`.
///
/// Durations come from a monotonic clock: `durationNanos` spans forward-to-ReadyForQuery,
/// `waitNanos` the time the client waited for a server connection before that (kept apart so a
/// starved pool does not look like a slow database).
public struct QuerySample: Sendable {
    /// Forward to ReadyForQuery, in nanoseconds.
    public var durationNanos: UInt64
    /// Time spent waiting for a server connection before forwarding, in nanoseconds.
    public var waitNanos: UInt64
    /// Database name as the client asked for it (the pool's name, not the backend dbname).
    public var database: String
    /// Client user name.
    public var user: String
    /// Primary or replica.
    public var route: QueryRoute
    /// Normalized statement text (literals replaced by `$n`), or nil when not known.
    /// Pass the server's cached string: the shard keeps a reference, it never copies it.
    public var fingerprint: String?
    /// Whether the query ended with an ErrorResponse.
    public var isError: Bool

    /// Creates a sample; see the properties for the meaning of each field.
    public init(
        durationNanos: UInt64,
        waitNanos: UInt64 = 0,
        database: String,
        user: String,
        route: QueryRoute,
        fingerprint: String? = nil,
        isError: Bool = false
    ) {
        self.durationNanos = durationNanos
        self.waitNanos = waitNanos
        self.database = database
        self.user = user
        self.route = route
        self.fingerprint = fingerprint
        self.isError = isError
    }
}
