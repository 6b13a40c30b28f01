import PGRelayCore

extension ProxyServer {
    /// Console `SET key = value`: the same validation as the file, only for keys that may change
    /// at run time; the new value is live at once (SHOW CONFIG shows it) until the next reload.
    /// - Throws: `ConfigError` naming the key.
    public func set(key: String, value: String) throws {
        let updated = try runtime.config.set(key: key, value: value)
        runtime.apply(config: updated)
        configureLogSink(for: updated)
        applyListenerSettings(for: updated)
        logger.info("setting changed from the console", metadata: ["key": "\(key)"])
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
