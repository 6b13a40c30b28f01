/// Built-in functions whose call makes a statement a write (it changes data or state, or it
/// only works on the primary), and the subset that leaves state in the session.
///
/// Names are matched on their last component, so `pg_catalog.nextval(` and `nextval(` are the
/// same; quoted names are matched case-insensitively, which errs on the side of the primary.
enum SQLWriteFunctions {
    /// Exact names (lower case).
    static let names: [StaticString] = [
        // sequences
        "nextval", "setval", "currval", "lastval",
        // configuration and session randomness
        "set_config", "setseed",
        // transaction ids (assigning one is a write) and notifications
        "txid_current", "pg_current_xact_id", "pg_notify",
        // remote execution
        "dblink_exec", "dblink_connect", "dblink_connect_u",
        // large objects by descriptor
        "lowrite", "loread",
        // administration that acts on the server it runs on
        "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
        "pg_switch_wal", "pg_create_restore_point", "pg_promote",
        "pg_backup_start", "pg_backup_stop", "pg_start_backup", "pg_stop_backup",
        "pg_stat_reset", "pg_stat_reset_shared", "pg_stat_reset_single_table_counters",
        "pg_stat_reset_single_function_counters", "pg_stat_reset_slru", "pg_stat_reset_replication_slot",
        "pg_create_physical_replication_slot", "pg_create_logical_replication_slot",
        "pg_drop_replication_slot", "pg_copy_physical_replication_slot", "pg_copy_logical_replication_slot",
        "pg_logical_slot_get_changes", "pg_logical_slot_get_binary_changes", "pg_replication_slot_advance",
        "pg_logical_emit_message", "pg_import_system_collations",
        "pg_replication_origin_create", "pg_replication_origin_drop", "pg_replication_origin_advance",
        "pg_replication_origin_session_setup", "pg_replication_origin_session_reset",
        "pg_replication_origin_xact_setup", "pg_replication_origin_xact_reset",
        "pg_file_write", "pg_file_unlink", "pg_file_rename", "pg_file_sync",
        "brin_summarize_new_values", "brin_summarize_range", "brin_desummarize_range",
        "gin_clean_pending_list",
    ]

    /// Prefixes: every advisory lock function (`pg_advisory_lock`, `pg_try_advisory_xact_lock`,
    /// `pg_advisory_unlock_all`, ...) and the large-object functions (`lo_import`, `lo_put`...).
    static let prefixes: [StaticString] = ["pg_advisory_", "pg_try_advisory_", "lo_"]

    /// Large-object functions that only read by OID and so stay reads.
    static let readOnlyExceptions: [StaticString] = ["lo_get"]

    /// Functions whose effect outlives the transaction.
    static let sessionStateNames: [StaticString] = [
        "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
        "set_config", "setseed", "dblink_connect", "dblink_connect_u", "pg_replication_origin_session_setup",
    ]
}

/// The write functions a classifier knows, built-in and configured, looked up by a hash of the
/// lower-cased name so that a call costs one hash and one dictionary probe. A hash collision
/// could only make a read look like a write, which is the safe side.
struct SQLFunctionTable: Sendable {
    enum Kind: Sendable {
        /// The call writes or needs the primary.
        case write
        /// ... and leaves state in the session.
        case sessionState
    }

    private let kinds: [UInt64: Kind]

    /// Built-in functions plus `configured` names: the last component of each, lower case.
    init(configured: [String]) {
        var kinds: [UInt64: Kind] = [:]
        for name in SQLWriteFunctions.names {
            kinds[Self.hash(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))] = .write
        }
        for name in configured {
            let lastComponent = name.split(separator: ".").last ?? ""
            let bytes = lastComponent.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\"") && $0 != 0x09 }
            guard !bytes.isEmpty else { continue }
            kinds[bytes.withUnsafeBufferPointer(Self.hash)] = .write
        }
        for name in SQLWriteFunctions.sessionStateNames {
            kinds[Self.hash(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))] = .sessionState
        }
        self.kinds = kinds
    }

    /// What calling the function named by `token` (an identifier or quoted identifier) does.
    func kind(of token: SQLToken, lexer: SQLLexer) -> Kind? {
        guard let range = lexer.nameRange(of: token), !range.isEmpty else { return nil }
        if let kind = kinds[Self.hash(UnsafeBufferPointer(rebasing: lexer.bytes[range]))] { return kind }
        if SQLWriteFunctions.prefixes.contains(where: { lexer.nameHasPrefix(token, $0) }),
           !SQLWriteFunctions.readOnlyExceptions.contains(where: { lexer.nameEquals(token, $0) }) {
            return .write
        }
        return nil
    }

    /// FNV-1a over the ASCII-lower-cased bytes.
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(SQLLexer.lowercased(byte))) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
