/// One backend server as `/health` lists it.
public struct BackendHealth: Equatable, Sendable {
    /// Pool (database) name the backend serves.
    public var database: String
    public var host: String
    public var port: Int
    /// "primary" or "replica".
    public var role: String
    /// Whether the last health check succeeded.
    public var up: Bool
    /// Replication lag in milliseconds; nil when unknown or not applicable (primaries).
    public var lagMs: Double?
    /// Why the backend is not up (its health check's last error: the server's refusal, a lag, a
    /// wrong role, or that the checks cannot log in); nil when it is up.
    public var reason: String?
    /// `hosts=` servers: when the checks first found the server in `role` (seconds since 1970).
    public var roleChangedAt: Double?

    /// Creates a backend entry.
    public init(database: String, host: String, port: Int, role: String, up: Bool, lagMs: Double? = nil, reason: String? = nil,
                roleChangedAt: Double? = nil) {
        self.roleChangedAt = roleChangedAt
        self.database = database
        self.host = host
        self.port = port
        self.role = role
        self.up = up
        self.lagMs = lagMs
        self.reason = reason
    }
}
