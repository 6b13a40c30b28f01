import PGRelayCore
import PGWire

/// Changing the TLS setup while running (RELOAD, SIGHUP, console `SET`), as `TLSReconfiguration`
/// decides it.
extension ProxyServer {
    /// Puts `contexts` in use for new connections. When the server side changed, the server
    /// connections open now are replaced, idle ones at once and lent ones when released, so that
    /// none goes on with the old settings.
    func install(tls contexts: TLSContextStore.Contexts) {
        guard runtime.tls.install(contexts) else { return }
        logger.info("server TLS settings changed, replacing the server connections")
        for pool in runtime.allPools() {
            pool.closeAllWhenReleased(reason: TLSReconfiguration.serverCloseReason)
        }
    }

    /// After a console `SET` of a TLS key: builds the setup from `config` and puts it in use. When
    /// it cannot be built, the setup in use stays (the setting is changed all the same, as in
    /// PgBouncer, so that keys can be set one after the other) and the returned notice says so.
    func reapplyTLS(for config: Config) -> ErrorFields? {
        do {
            install(tls: try TLSContextStore.build(from: config))
            return nil
        } catch {
            logger.error("\(TLSReconfiguration.setupKeptNotice)", metadata: ["error": "\(error)"])
            return ErrorFields(severity: "NOTICE", sqlState: "00000", message: TLSReconfiguration.setupKeptNotice,
                               detail: "\(error)")
        }
    }
}

extension ProxyServer {
    /// `--check`: builds the TLS setup of `config` without using it, so that an unreadable
    /// certificate or a key that does not match is found before a start or a reload fails on it.
    /// - Throws: the setup error, naming the key and file.
    public static func checkTLS(config: Config) throws {
        _ = try TLSContextStore.build(from: config)
    }
}
