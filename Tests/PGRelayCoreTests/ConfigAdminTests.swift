import XCTest
@testable import PGRelayCore

final class ConfigAdminTests: XCTestCase {
    private func baseConfig(_ settings: String = "") throws -> Config {
        try loadConfig(mainSection(settings)).config
    }

    func testSetChangeableKey() throws {
        let config = try baseConfig()
        let updated = try config.set(key: "default_pool_size", value: "5")
        XCTAssertEqual(updated.defaultPoolSize, 5)
        XCTAssertEqual(config.defaultPoolSize, 20, "the original value is untouched")
        XCTAssertEqual(updated.redactedKeyValues().first { $0.key == "default_pool_size" }?.value, "5")
        XCTAssertEqual(try config.set(key: "Pool_Mode", value: "session").poolMode, .session)
        XCTAssertEqual(try config.set(key: "dns_max_ttl", value: "30").noEffectSettings["dns_max_ttl"], "30")
    }

    func testSetErrors() throws {
        let config = try baseConfig()
        let cases: [(String, String, ConfigError.Kind, String)] = [
            ("listen_port", "7000", .notChangeable, "listen_port: cannot be changed at run time; edit the config file and restart"),
            ("stats", "off", .notChangeable, "stats: cannot be changed at run time; edit the config file and restart"),
            ("so_reuseport", "1", .notChangeable, "so_reuseport: cannot be changed at run time; edit the config file and restart"),
            ("no_such_key", "1", .unknownOption, "no_such_key: unknown configuration key"),
            ("default_pool_size", "many", .invalidValue, #"default_pool_size: invalid integer "many""#),
            ("health_degraded_ratio", "0.5", .inconsistent, "health_degraded_ratio: 0.5 is above health_unhealthy_ratio (0.1)"),
        ]
        for (key, value, kind, description) in cases {
            let error = configError { try config.set(key: key, value: value) }
            XCTAssertEqual(error?.kind, kind, key)
            XCTAssertEqual(error?.description, description, key)
        }
    }

    func testShowConfigRowsAndDefaults() throws {
        let rows = try baseConfig("pool_mode = session\nauth_ldap_options = ldapurl=\"ldap://x\" bindpasswd=secret")
            .redactedKeyValues()
        let byKey = Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0) })
        XCTAssertEqual(byKey["pool_mode"]?.value, "session")
        XCTAssertEqual(byKey["pool_mode"]?.default, "transaction")
        XCTAssertEqual(byKey["pool_mode"]?.changeable, true)
        XCTAssertEqual(byKey["listen_port"]?.changeable, false)
        XCTAssertEqual(byKey["unix_socket_mode"]?.value, "0777")
        XCTAssertEqual(byKey["reserve_pool_timeout"]?.value, "5")
        XCTAssertEqual(byKey["max_packet_size"]?.value, "1073741824")
        XCTAssertEqual(byKey["tcp_keepalive"]?.value, "1")
        XCTAssertEqual(byKey["read_write_split"]?.value, "on")
        XCTAssertEqual(byKey["health_unhealthy_ratio"]?.value, "0.1")
        XCTAssertEqual(byKey["auth_ldap_options"]?.value, "***")
        XCTAssertNil(byKey["stats"], "hidden benchmark switch")
        XCTAssertNil(byKey["service_name"], "PgBouncer lists it only on Windows")
        XCTAssertEqual(rows.count, byKey.count, "no key twice")
    }

    func testSQLLiteralsAreMasked() throws {
        let config = try baseConfig("auth_query = SELECT usename, passwd FROM users WHERE usename = $1 AND token <> 's3cr''et'")
        let value = config.redactedKeyValues().first { $0.key == "auth_query" }?.value
        XCTAssertEqual(value, "SELECT usename, passwd FROM users WHERE usename = $1 AND token <> '***'")
        XCTAssertEqual(ConfigRedaction.maskingSQLLiterals("SELECT 1"), "SELECT 1")
        XCTAssertEqual(ConfigRedaction.maskingSQLLiterals("a 'b' c 'd"), "a '***' c '***")
    }

    func testChangedKeys() throws {
        let old = try baseConfig()
        let new = try baseConfig("default_pool_size = 30\nlisten_port = 7000\nsyslog = 1")
        XCTAssertEqual(new.changedKeys(from: old), ["default_pool_size", "listen_port", "syslog"])
        XCTAssertEqual(old.changedKeys(from: old), [])
        XCTAssertTrue(Config.isChangeable(key: "default_pool_size"))
        XCTAssertFalse(Config.isChangeable(key: "listen_port"))
        XCTAssertFalse(Config.isChangeable(key: "nonsense"))
    }

    func testDatabaseAndUserChanges() throws {
        let old = try loadConfig("""
            [pgrelay]
            [databases]
            keep = host=a
            change = host=a pool_size=5
            drop = host=a
            [users]
            alice = pool_size=1
            """).config
        let new = try loadConfig("""
            [pgrelay]
            [databases]
            keep = host=a
            change = host=a pool_size=6
            add = host=b
            [users]
            alice = pool_size=2
            bob = pool_size=1
            """).config
        XCTAssertEqual(new.databaseChanges(from: old), ConfigSectionChanges(added: ["add"], removed: ["drop"], changed: ["change"]))
        XCTAssertEqual(new.userChanges(from: old), ConfigSectionChanges(added: ["bob"], removed: [], changed: ["alice"]))
        XCTAssertTrue(old.databaseChanges(from: old).isEmpty)
    }

    func testPasswordChangeIsAChange() throws {
        let old = try loadConfig("[pgrelay]\n[databases]\napp = host=a user=u password=one\n").config
        let new = try loadConfig("[pgrelay]\n[databases]\napp = host=a user=u password=two\n").config
        XCTAssertEqual(new.databaseChanges(from: old).changed, ["app"])
    }
}

final class ConfigDescriptionTests: XCTestCase {
    func testInterpolatedConfigsDoNotShowSecrets() throws {
        let config = try loadConfig("""
            [pgrelay]
            auth_ldap_options = bindpasswd=topsecret
            [databases]
            app = host=h user=u password=hunter2
            """).config
        for text in ["\(config)", String(reflecting: config), "\(config.databases)", String(reflecting: config.databases[0])] {
            XCTAssertFalse(text.contains("hunter2"), text)
            XCTAssertFalse(text.contains("topsecret"), text)
        }
        XCTAssertEqual(config.description,
                       "Config(pgrelay.ini, listen 127.0.0.1:6432, pool_mode transaction, default_pool_size 20, databases [app], users 0)")
    }
}
