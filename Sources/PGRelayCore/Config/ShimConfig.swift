// TEMPORARY compile shim for the lead's server work; replaced by the config branch at merge.
public enum PoolMode: String, Sendable { case session, transaction, statement }
public enum AuthType: String, Sendable { case trust, plain, md5, scramSHA256 = "scram-sha-256", peer, hba, cert, any }
public enum LogFormat: String, Sendable { case json, text }
public enum LogLevel: String, Sendable { case debug, info, warning, error }
public enum LogQueries: String, Sendable { case none, slow, all }
public enum TLSMode: String, Sendable { case disable, allow, prefer, require }
public struct BackendAddress: Hashable, Sendable { public var host: String; public var port: Int
  public init(host: String, port: Int) { self.host = host; self.port = port } }
public struct DatabaseConfig: Sendable {
  public var name: String; public var hosts: [BackendAddress]; public var replicas: [BackendAddress]
  public var dbname: String?; public var user: String?; public var password: String?
  public var poolSize: Int?; public var minPoolSize: Int?; public var reservePoolSize: Int?
  public var maxDBConnections: Int?; public var poolMode: PoolMode?; public var connectQuery: String?
  public var authUser: String?; public var startupParameters: [String: String]
}
public struct UserConfig: Sendable { public var name: String; public var poolMode: PoolMode?; public var maxUserConnections: Int?; public var poolSize: Int? }
public struct Config: Sendable {
  public var listenAddr = "127.0.0.1"; public var listenPort = 6432; public var adminAddr = "127.0.0.1"; public var adminPort = 6433
  public var unixSocketDir = "/tmp"; public var logfile = ""; public var pidfile = ""
  public var adminUsers: [String] = ["admin"]; public var statsUsers: [String] = ["stats"]
  public var poolMode: PoolMode = .transaction; public var defaultPoolSize = 20; public var minPoolSize = 0
  public var reservePoolSize = 0; public var reservePoolTimeout = 5.0; public var maxClientConn = 10000
  public var maxDBConnections = 0; public var maxUserConnections = 0; public var authType: AuthType = .scramSHA256
  public var authFile = "userlist.txt"; public var authUser = ""; public var authQuery = ""
  public var serverResetQuery = "DISCARD ALL"; public var serverResetQueryAlways = false; public var serverCheckQuery = "SELECT 1"
  public var serverCheckDelay = 30.0; public var serverIdleTimeout = 600.0; public var serverLifetime = 3600.0
  public var serverConnectTimeout = 15.0; public var serverLoginRetry = 15.0; public var queryTimeout = 0.0; public var queryWaitTimeout = 120.0
  public var clientIdleTimeout = 0.0; public var clientLoginTimeout = 60.0; public var idleTransactionTimeout = 0.0
  public var ignoreStartupParameters: [String] = ["extra_float_digits"]; public var trackExtraParameters: [String] = ["IntervalStyle"]
  public var shutdownTimeout = 30.0; public var maxPreparedStatements = 200
  public var maxPacketSize = 1 << 30; public var maxStartupPacketSize = 10000
  public var slowQueryThresholdMs = 100.0; public var healthWindowS = 60; public var healthDegradedRatio = 0.05; public var healthUnhealthyRatio = 0.10
  public var readWriteSplit = true; public var replicaCheckIntervalS = 2.0; public var replicaMaxLagMs = 0.0; public var readAfterWriteMs = 0.0
  public var writeFunctions: [String] = []; public var maxFingerprints = 5000
  public var logFormat: LogFormat = .json; public var logLevel: LogLevel = .info; public var logQueries: LogQueries = .slow
  public var stats = true
  public var databases: [DatabaseConfig] = []; public var users: [String: UserConfig] = [:]
  public var sourcePath = ""
  public init() {}
  public func database(named name: String) -> DatabaseConfig? {
    if let d = databases.first(where: { $0.name == name }) { return d }
    if var d = databases.first(where: { $0.name == "*" }) { d.name = name; if d.dbname == nil { d.dbname = name }; return d }
    return nil
  }
}
public struct ConfigWarning: Sendable, CustomStringConvertible { public var description: String }
public struct LoadedConfig: Sendable { public var config: Config; public var warnings: [ConfigWarning] }
public enum ConfigLoader { public static func load(path: String) throws -> LoadedConfig { fatalError("shim") } }
