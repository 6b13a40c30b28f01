import NIOCore
import PGWire

/// A result set the console sends: typed columns and text rows.
struct ConsoleTable {
    enum ColumnType: UInt32 {
        case text = 25
        case int4 = 23
        case int8 = 20
        case numeric = 1700
        case float8 = 701
        case timestamptz = 1184
        case bool = 16
    }

    var columns: [(name: String, type: ColumnType)]
    var rows: [[String?]] = []

    init(_ columns: [(String, ColumnType)]) {
        self.columns = columns.map { (name: $0.0, type: $0.1) }
    }

    mutating func add(_ row: [String?]) {
        rows.append(row)
    }

    func write(into out: inout ByteBuffer, tag: String) {
        out.writeRowDescription(columns.map { (name: $0.name, typeOID: $0.type.rawValue) })
        for row in rows { out.writeDataRow(row) }
        out.writeCommandComplete(tag)
    }
}
