import Dispatch
import Glibc
import NIOCore
import PGRelayCore

/// Turns a server's host into socket addresses for the engine's connects, which take numeric
/// addresses only. A numeric address or a Unix socket folder needs no lookup; a name is looked
/// up with getaddrinfo on a dispatch queue (it blocks), never on a reactor.
enum HostResolver {
    struct LookupFailed: Error, CustomStringConvertible {
        let host: String
        let reason: String
        var description: String { "could not resolve \(host): \(reason)" }
    }

    private static let queue = DispatchQueue(label: "pgrelay.resolver", attributes: .concurrent)

    /// The addresses of `address`, in getaddrinfo's order (IPv6 and IPv4 as the system prefers),
    /// completed on `loop`.
    static func resolve(_ address: BackendAddress, on loop: EventLoop) -> EventLoopFuture<[SocketAddress]> {
        if let path = address.unixSocketPath {
            return loop.makeCompletedFuture { [try SocketAddress(unixDomainSocketPath: path)] }
        }
        if let numeric = try? SocketAddress(ipAddress: address.host, port: address.port) {
            return loop.makeSucceededFuture([numeric])
        }
        let promise = loop.makePromise(of: [SocketAddress].self)
        let host = address.host, port = address.port
        queue.async { promise.completeWith(Result { try lookUp(host: host, port: port) }) }
        return promise.futureResult
    }

    static func lookUp(host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, String(port), &hints, &list)
        guard code == 0, let first = list else {
            throw LookupFailed(host: host, reason: String(cString: gai_strerror(code)))
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let pointer = current.pointee.ai_addr {
                switch current.pointee.ai_family {
                case AF_INET:
                    pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addresses.append(SocketAddress($0.pointee, host: host)) }
                case AF_INET6:
                    pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { addresses.append(SocketAddress($0.pointee, host: host)) }
                default:
                    break
                }
            }
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw LookupFailed(host: host, reason: "no IPv4 or IPv6 address") }
        return addresses
    }
}
