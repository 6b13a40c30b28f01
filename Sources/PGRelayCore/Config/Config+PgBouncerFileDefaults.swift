extension Config {
    /// Defaults for a file whose main section is `[pgbouncer]`: PgBouncer's own file, run
    /// unchanged, gets PgBouncer's default where pgrelay's own default differs and the difference
    /// would change what the setup does. Keys the file sets keep their values.
    ///
    /// - `server_tls_sslmode = prefer` (PgBouncer since 1.21, and libpq): a server with TLS is
    ///   reached over TLS. pgrelay's own default, `disable`, would silently drop the encryption of
    ///   a PgBouncer setup whose servers have `ssl = on`.
    /// - `log_format = text`: plain lines, which the greps and alerts written for PgBouncer's log
    ///   match (JSON would escape the quotes in `"trust" authentication failed`).
    /// - `server_check_query = <empty>` (PgBouncer since 1.24): an empty query checks a reused
    ///   server, and what the server logs for it is what PgBouncer's users expect to see.
    /// - `pool_mode = session`: a file without `pool_mode` relies on session pooling (SET, temp
    ///   tables, advisory locks last for the client's session); pgrelay's own default,
    ///   `transaction`, would silently share servers between its clients.
    /// - `auth_type = md5`: md5 secrets in its auth_file keep working (SCRAM secrets still get
    ///   SCRAM, as in PgBouncer); pgrelay's own default, `scram-sha-256`, refuses them.
    mutating func applyPgBouncerFileDefaults(keysSet: Set<String>) {
        if !keysSet.contains("pool_mode") {
            poolMode = .session
        }
        if !keysSet.contains("auth_type") {
            authType = .md5
        }
        if !keysSet.contains("server_check_query") {
            serverCheckQuery = "<empty>"
        }
        if !keysSet.contains("server_tls_sslmode") {
            serverTLSSSLMode = .prefer
        }
        if !keysSet.contains("log_format") {
            logFormat = .text
        }
    }
}
