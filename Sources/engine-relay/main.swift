// engine-relay: a plain TCP byte relay on the relay engine (PGRelayEngine), to measure the
// engine's cost per round trip against the issue 15 spike's relays (spikes/relay in branch
// `spike`; docs/performance.md, "Relay engine foundation"). Not shipped.
//
//     engine-relay --listen [HOST:]PORT --upstream HOST:PORT [--threads N]
//
// Each client connection gets its own upstream connection from the client's reactor; the two
// are relayed with back-pressure (ConnectionRelay). HOST must be a numeric IPv4 or IPv6 address.
#if os(Linux)
import Glibc
import NIOCore
import PGRelayEngine

struct Arguments {
    var listen = SocketAddressText(host: "127.0.0.1", port: 0)
    var upstream: SocketAddressText?
    var threads = 1

    static let usage = "usage: engine-relay --listen [HOST:]PORT --upstream HOST:PORT [--threads N]"

    init(_ arguments: [String]) throws {
        var remaining = arguments[...]
        while let option = remaining.popFirst() {
            guard let value = remaining.popFirst() else { throw UsageError("\(option) needs a value") }
            switch option {
            case "--listen": listen = try SocketAddressText(parsing: value, defaultHost: "127.0.0.1")
            case "--upstream": upstream = try SocketAddressText(parsing: value, defaultHost: nil)
            case "--threads":
                guard let count = Int(value), count > 0 else { throw UsageError("--threads takes a positive number") }
                threads = count
            default: throw UsageError("unknown option \(option)")
            }
        }
        guard upstream != nil else { throw UsageError("--upstream is required") }
    }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// "HOST:PORT", "[V6]:PORT" or (with a default host) "PORT", to a numeric `SocketAddress`.
struct SocketAddressText {
    let host: String
    let port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(parsing text: String, defaultHost: String?) throws {
        if let colon = text.lastIndex(of: ":") {
            let hostPart = text[..<colon]
            host = hostPart.hasPrefix("[") && hostPart.hasSuffix("]") ? String(hostPart.dropFirst().dropLast()) : String(hostPart)
            guard let port = Int(text[text.index(after: colon)...]) else { throw UsageError("bad port in \(text)") }
            self.port = port
        } else if let defaultHost, let port = Int(text) {
            host = defaultHost
            self.port = port
        } else {
            throw UsageError("expected HOST:PORT, got \(text)")
        }
    }

    func address() throws -> SocketAddress { try SocketAddress(ipAddress: host, port: port) }
}

/// One line to standard error with a single write(2), so that reactor threads' lines do not
/// interleave.
func log(_ message: String) {
    let line = "engine-relay: \(message)\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}

do {
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    let upstream = try arguments.upstream!.address()
    let group = try ReactorGroup(workers: arguments.threads, namePrefix: "relay")
    let listener = try Listener(
        address: try arguments.listen.address(),
        group: group,
        onError: { log("accept: \($0)") },
        onAccept: { client in
            Connector.connect(to: upstream, on: client.reactor, timeout: .seconds(10)).whenComplete { result in
                switch result {
                case .success(let server):
                    ConnectionRelay(client, server).start()
                case .failure(let error):
                    log("\(error)")
                    client.close()
                }
            }
        }
    )
    log("relaying \(listener.localAddress) -> \(upstream) on \(arguments.threads) reactor(s)")
    // The reactors do the work; this thread only waits (SIGTERM/SIGINT end the process).
    while true {
        pause()
    }
} catch {
    log("\(error)\n\(Arguments.usage)")
    exit(2)
}
#else
print("engine-relay runs on Linux only")
#endif
