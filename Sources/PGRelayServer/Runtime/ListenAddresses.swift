import Foundation
import NIOCore

/// `listen_addr` as socket addresses: `*` is every IPv4 and IPv6 address (two listeners, as
/// PgBouncer has), a numeric address is itself, a host name is each of its addresses (looked up
/// once, at start).
enum ListenAddresses {
    static func resolve(_ entries: [String], port: Int) throws -> [SocketAddress] {
        var addresses: [SocketAddress] = []
        for entry in entries {
            if entry == "*" {
                addresses.append(try SocketAddress(ipAddress: "0.0.0.0", port: port))
                if ipv6Available { addresses.append(try SocketAddress(ipAddress: "::", port: port)) }
            } else if let numeric = try? SocketAddress(ipAddress: entry, port: port) {
                addresses.append(numeric)
            } else {
                addresses += try HostResolver.lookUp(host: entry, port: port)
            }
        }
        // A name that resolves to an address also listed: one listener.
        var seen = Set<String>()
        return addresses.filter { seen.insert("\($0.ipAddress ?? "")|\($0.port ?? 0)").inserted }
    }

    /// Whether this host can open IPv6 sockets (containers often cannot).
    private static var ipv6Available: Bool {
        let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard probe >= 0 else { return false }
        close(probe)
        return true
    }

    /// A socket file left by a pgrelay that did not stop cleanly would make the bind fail; a file
    /// that is not a socket is left for the bind to report.
    static func removeStaleSocketFile(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return }
        unlink(path)
    }
}

extension SocketAddress {
    /// The same address with another port (unchanged for a Unix socket).
    func withPort(_ port: Int) -> SocketAddress {
        guard let ip = ipAddress, let same = try? SocketAddress(ipAddress: ip, port: port) else { return self }
        return same
    }
}
