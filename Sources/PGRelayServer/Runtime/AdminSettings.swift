import PGRelayCore
import PGWire

extension ProxyServer {
    /// Console `SET key = value`: the same validation as the file, only for keys that may change
    /// at run time; the new value is live at once (SHOW CONFIG shows it) until the next reload.
    /// A TLS key also rebuilds the TLS setup (`TLSReconfiguration`).
    /// - Returns: a notice for the admin when the setting changed but its TLS setup could not be
    ///   built (the one in use stays).
    /// - Throws: `ConfigError` naming the key.
    @discardableResult
    public func set(key: String, value: String) throws -> ErrorFields? {
        let updated = try runtime.config.set(key: key, value: value)
        runtime.apply(config: updated)
        configureLogSink(for: updated)
        applyListenerSettings(for: updated)
        logger.info("setting changed from the console", metadata: ["key": "\(key)"])
        return TLSReconfiguration.affectsTLS(key: key) ? reapplyTLS(for: updated) : nil
    }
}

extension ProxyServer {
    /// SIGUSR1: PAUSE every database (returns at once; the pause completes in the background).
    public func pauseAll() {
        _ = try? runtime.pause(database: nil)
    }

    /// SIGUSR2: RESUME every database.
    public func resumeAll() {
        if runtime.isShuttingDown {
            logger.info("got SIGUSR2 while shutting down, ignoring")
            return
        }
        try? runtime.resume(database: nil)
    }
}
