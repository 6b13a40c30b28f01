/// How the proxy stops, as PgBouncer 1.23+ does. SIGTERM and `SHUTDOWN WAIT_FOR_CLIENTS` wait for
/// clients; SIGINT and `SHUTDOWN WAIT_FOR_SERVERS` for servers; SIGQUIT and `SHUTDOWN` stop at once.
/// A second SIGTERM or SIGINT while a shutdown waits stops at once. Waiting is bounded by
/// `shutdown_timeout` (0: no bound); then the remaining clients get 57P01 and the proxy exits.
public enum ShutdownMode: Equatable, Sendable {
    /// Close every client now (57P01 "server shutting down") and exit.
    case immediate
    /// Stop accepting (the Unix socket stays open for the admin console), disconnect clients that
    /// wait for a server or ask for one, and exit once no server is lent to a client.
    case waitForServers
    /// Stop accepting (the Unix socket stays open for the admin console) and exit once every
    /// client has disconnected.
    case waitForClients
}
