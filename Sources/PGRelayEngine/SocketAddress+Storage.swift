#if os(Linux)
import Glibc
import NIOCore

/// The address a socket call wrote, as NIO's `SocketAddress` (what pgrelay's sessions already use
/// for logging, HBA-style checks and SHOW CLIENTS).
extension SocketAddress {
    /// Fails for families other than IPv4, IPv6 and Unix.
    init(storage: sockaddr_storage) throws {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            self = withUnsafeBytes(of: &storage) { SocketAddress($0.load(as: sockaddr_in.self)) }
        case AF_INET6:
            self = withUnsafeBytes(of: &storage) { SocketAddress($0.load(as: sockaddr_in6.self)) }
        case AF_UNIX:
            self = withUnsafeBytes(of: &storage) { SocketAddress($0.load(as: sockaddr_un.self)) }
        default:
            throw SystemCallError("address family \(storage.ss_family)", code: EAFNOSUPPORT)
        }
    }
}
#endif
