import Foundation
import Logging
import PostgresNIO

/// nio-client SCENARIO --port P [--user U --password W --database D]
/// Scenarios (each prints one JSON object on stdout and exits 0, or prints the error and exits 1):
///   queries    simple queries, parameters, a transaction, an error that leaves the connection usable
///   prepared   a prepared statement run 50 times over a pool of 4 connections, inside and outside
///              transactions (through transaction pooling it moves between servers)
///   console    SHOW commands of the admin console through the extended protocol
struct Options {
    var scenario = ""
    var port = 6432
    var user = "app"
    var password = "app"
    var database = "appdb"

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--port": port = Int(iterator.next() ?? "") ?? port
            case "--user": user = iterator.next() ?? user
            case "--password": password = iterator.next() ?? password
            case "--database": database = iterator.next() ?? database
            default: scenario = argument
            }
        }
    }
}

struct AddOne: PostgresPreparedStatement {
    static let name = "nio_add_one"
    static let sql = "SELECT $1::int4 + 1, inet_server_port()"
    typealias Row = (Int32, Int32?)
    var value: Int32

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(value)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
}

func json(_ object: [String: Any]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

func withClient<T>(_ options: Options, connections: Int, _ body: (PostgresClient) async throws -> T) async throws -> T {
    var configuration = PostgresClient.Configuration(host: "127.0.0.1", port: options.port, username: options.user,
                                                     password: options.password, database: options.database, tls: .disable)
    configuration.options.maximumConnections = connections
    configuration.options.minimumConnections = 0
    let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "nio-client"))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}

func queries(_ options: Options) async throws -> [String: Any] {
    try await withClient(options, connections: 1) { client in
        var sum = 0
        for try await (value) in try await client.query("SELECT generate_series(1, 100)::int4").decode(Int32.self) {
            sum += Int(value)
        }
        let text = "o'reilly"
        var echoed = ""
        for try await (value) in try await client.query("SELECT \(text)::text").decode(String.self) { echoed = value }
        var errorState = ""
        do {
            _ = try await client.query("SELECT * FROM no_such_table_nio").collect()
        } catch let error as PSQLError {
            errorState = error.serverInfo?[.sqlState] ?? "?"
        }
        var after = 0
        for try await (value) in try await client.query("SELECT 41 + 1").decode(Int.self) { after = value }
        let inTransaction = try await client.withTransaction(logger: Logger(label: "tx")) { connection -> Int in
            var n = 0
            for try await (value) in try await connection.query("SELECT 7", logger: Logger(label: "tx")).decode(Int.self) { n = value }
            return n
        }
        return ["sum": sum, "echo": echoed, "error_sqlstate": errorState, "after_error": after, "in_transaction": inTransaction]
    }
}

func prepared(_ options: Options) async throws -> [String: Any] {
    try await withClient(options, connections: 4) { client in
        var results: [Int] = []
        var ports = Set<Int>()
        try await withThrowingTaskGroup(of: [(Int, Int)].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var local: [(Int, Int)] = []
                    for i in 0..<12 {
                        let value = Int32(worker * 100 + i)
                        if i % 3 == 0 {
                            let row = try await client.withTransaction(logger: Logger(label: "tx")) { connection -> [(Int32, Int32?)] in
                                var rows: [(Int32, Int32?)] = []
                                for try await r in try await connection.execute(AddOne(value: value), logger: Logger(label: "tx")) {
                                    rows.append(r)
                                }
                                return rows
                            }
                            for (v, port) in row { local.append((Int(v - value), Int(port ?? 0))) }
                        } else {
                            for try await (v, port) in try await client.execute(AddOne(value: value)) {
                                local.append((Int(v - value), Int(port ?? 0)))
                            }
                        }
                    }
                    return local
                }
            }
            for try await local in group {
                for (delta, port) in local {
                    results.append(delta)
                    ports.insert(port)
                }
            }
        }
        guard results.allSatisfy({ $0 == 1 }) else { throw Failure(description: "wrong results: \(results)") }
        return ["executions": results.count, "server_ports": Array(ports).sorted()]
    }
}

func console(_ options: Options) async throws -> [String: Any] {
    try await withClient(options, connections: 1) { client in
        var tables: [String: Any] = [:]
        for command in ["SHOW VERSION", "SHOW CONFIG", "SHOW DATABASES", "SHOW CLIENTS", "SHOW POOLS", "SHOW STATS"] {
            let rows = try await client.query(PostgresQuery(unsafeSQL: command)).collect()
            tables[command] = ["rows": rows.count, "columns": rows.first.map { $0.map(\.columnName) } ?? []]
        }
        return tables
    }
}

let options = Options(CommandLine.arguments)
do {
    let result: [String: Any]
    switch options.scenario {
    case "queries": result = try await queries(options)
    case "prepared": result = try await prepared(options)
    case "console": result = try await console(options)
    default: throw Failure(description: "unknown scenario \(options.scenario); use queries, prepared or console")
    }
    print(json(result))
} catch {
    FileHandle.standardError.write(Data("nio-client: \(String(reflecting: error))\n".utf8))
    exit(1)
}
