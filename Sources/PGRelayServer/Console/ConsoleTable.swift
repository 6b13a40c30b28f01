import NIOCore
import PGWire

/// A result set the console sends: typed columns and rows of text values (NULL as nil), the way
/// PgBouncer builds them. The same tables feed the admin HTTP listings.
struct ConsoleTable {
    /// Column types PgBouncer's console uses (its `s`, `i`, `q`, `N`, `b`), plus float8 for ours.
    /// PgBouncer sends its timestamps (`T`) as text.
    enum ColumnType: UInt32 {
        case text = 25
        case int4 = 23
        case int8 = 20
        case numeric = 1700
        case float8 = 701
        case bytea = 17

        var isNumber: Bool { self != .text && self != .bytea }
    }

    struct Column: Equatable {
        var name: String
        var type: ColumnType
    }

    var columns: [Column]
    var rows: [[String?]] = []

    init(_ columns: [(String, ColumnType)]) {
        self.columns = columns.map { Column(name: $0.0, type: $0.1) }
    }

    var columnNames: [String] { columns.map(\.name) }

    /// Appends a row; a row of the wrong width is a programming error caught by the unit tests,
    /// padded or cut here so that the wire stays valid.
    mutating func add(_ row: [String?]) {
        var row = row
        if row.count < columns.count { row += Array(repeating: nil, count: columns.count - row.count) }
        if row.count > columns.count { row.removeLast(row.count - columns.count) }
        rows.append(row)
    }

    /// The rows as JSON-ready objects for the admin HTTP listings: numbers as numbers.
    var adminRows: [[String: AdminValue]] {
        rows.map { row in
            var object: [String: AdminValue] = [:]
            for (column, value) in zip(columns, row) {
                object[column.name] = Self.adminValue(value, type: column.type)
            }
            return object
        }
    }

    static func adminValue(_ value: String?, type: ColumnType) -> AdminValue {
        guard let value else { return .null }
        switch type {
        case .int4, .int8, .numeric:
            if let number = Int64(value) { return .int(number) }
            return Double(value).map(AdminValue.double) ?? .string(value)
        case .float8:
            return Double(value).map(AdminValue.double) ?? .string(value)
        case .text, .bytea:
            return .string(value)
        }
    }
}
