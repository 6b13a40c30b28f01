/// A routing hint given by the client in a leading comment: `/* pgrelay:primary */` or
/// `/* pgrelay:replica */`. Hints win over the classifier.
public enum RouteHint: Sendable, Equatable {
    /// Run on the primary.
    case primary
    /// Run on a replica if one is healthy.
    case replica
}

/// Which SQL-level prepared statements a `DEALLOCATE` removes.
public enum DeallocateTarget: Sendable, Equatable {
    /// The text has no `DEALLOCATE`.
    case none
    /// `DEALLOCATE [PREPARE] name`; the name as PostgreSQL resolves it (unquoted names folded
    /// to lower case).
    case name(String)
    /// `DEALLOCATE [PREPARE] ALL`.
    case all
}

/// What the router and the pooler need to know about a Query text: whether it may run on a
/// replica, and the transaction and session facts it carries. A small value: no heap
/// allocation unless the text holds a SET, RESET or DEALLOCATE.
///
/// For a text with several statements, the flags are the union over its statements, and the
/// SET/RESET parameter name and the DEALLOCATE target are those of the last such statement.
/// Transaction state itself is best followed through ReadyForQuery's status byte; these
/// facts say what a text is about to do before it is sent.
public struct SQLClassification: Sendable, Equatable {
    /// Facts about a text, one bit each.
    public struct Facts: OptionSet, Sendable, Hashable {
        /// The bits.
        public let rawValue: UInt32
        /// Facts from their bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// At least one statement only reads (SELECT, VALUES, TABLE, SHOW, EXPLAIN, COPY ... TO
        /// STDOUT, BEGIN READ ONLY).
        public static let containsRead = Facts(rawValue: 1 << 0)
        /// At least one statement may write or must run on the primary.
        public static let containsWrite = Facts(rawValue: 1 << 1)
        /// BEGIN or START TRANSACTION (also COMMIT/ROLLBACK AND CHAIN, which open the next one).
        public static let beginsTransaction = Facts(rawValue: 1 << 2)
        /// BEGIN/START TRANSACTION ... READ ONLY, or SET TRANSACTION ... READ ONLY.
        public static let readOnlyTransaction = Facts(rawValue: 1 << 3)
        /// COMMIT, END, ROLLBACK (not ROLLBACK TO SAVEPOINT), ABORT, PREPARE TRANSACTION.
        public static let endsTransaction = Facts(rawValue: 1 << 4)
        /// State that outlives the transaction: session SET, RESET, LISTEN, PREPARE, temporary
        /// objects, session advisory locks, cursors WITH HOLD, LOAD, set_config().
        public static let setsSessionState = Facts(rawValue: 1 << 5)
        /// `SET [SESSION] name {TO | =} value` and its special forms (TIME ZONE, NAMES, ROLE...).
        public static let isSet = Facts(rawValue: 1 << 6)
        /// `RESET name` or `RESET ALL`.
        public static let isReset = Facts(rawValue: 1 << 7)
        /// `DISCARD ALL`.
        public static let isDiscardAll = Facts(rawValue: 1 << 8)
        /// `LISTEN channel`.
        public static let isListen = Facts(rawValue: 1 << 9)
    }

    /// The union of the facts of every statement.
    public var facts: Facts
    /// The routing hint of the text's leading comment, if any.
    public var hint: RouteHint?
    /// The parameter of the last SET or RESET (`timezone`, `search_path`, `all`...), lower
    /// case unless quoted. Its value is not kept: it may be a secret, and the pooler learns
    /// the effective values from ParameterStatus.
    public var parameterName: String?
    /// The target of the last DEALLOCATE.
    public var deallocate: DeallocateTarget
    /// Number of non-empty statements in the text.
    public var statementCount: Int

    /// An empty classification: no statements, no facts.
    public init(
        facts: Facts = [], hint: RouteHint? = nil, parameterName: String? = nil,
        deallocate: DeallocateTarget = .none, statementCount: Int = 0
    ) {
        self.facts = facts
        self.hint = hint
        self.parameterName = parameterName
        self.deallocate = deallocate
        self.statementCount = statementCount
    }

    /// True when the text may run on a replica: it has a reading statement and no statement
    /// that writes or needs the primary. Texts with only neutral statements (empty, comments,
    /// COMMIT, SAVEPOINT, SET LOCAL) are not reads: the primary (or the transaction's server)
    /// is always safe for them.
    public var isRead: Bool { facts.contains(.containsRead) && !facts.contains(.containsWrite) }
    /// True when some statement writes or needs the primary.
    public var isWrite: Bool { facts.contains(.containsWrite) }
    /// True when the text has no statement at all (empty, whitespace, comments, lone `;`).
    public var isEmpty: Bool { statementCount == 0 }

    /// See `Facts.beginsTransaction`.
    public var beginsTransaction: Bool { facts.contains(.beginsTransaction) }
    /// See `Facts.readOnlyTransaction`.
    public var readOnlyTransaction: Bool { facts.contains(.readOnlyTransaction) }
    /// See `Facts.endsTransaction`.
    public var endsTransaction: Bool { facts.contains(.endsTransaction) }
    /// See `Facts.setsSessionState`.
    public var setsSessionState: Bool { facts.contains(.setsSessionState) }
    /// See `Facts.isSet`.
    public var isSet: Bool { facts.contains(.isSet) }
    /// See `Facts.isReset`.
    public var isReset: Bool { facts.contains(.isReset) }
    /// See `Facts.isDiscardAll`.
    public var isDiscardAll: Bool { facts.contains(.isDiscardAll) }
    /// See `Facts.isListen`.
    public var isListen: Bool { facts.contains(.isListen) }
}
