import Glibc

/// A failed system call, with the `errno` it set (or the negative result io_uring returned).
struct SystemCallError: Error, CustomStringConvertible {
    let call: String
    let code: Int32

    init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    var description: String { "\(call): \(String(cString: strerror(code)))" }
}

/// Writes one line to standard error with a single write(2), so that lines of several reactor
/// threads do not interleave (and without `stderr`, a global that Swift 6 treats as shared state).
func logLine(_ message: String) {
    let line = "relay-spike: \(message)\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}

/// Logs and ends the process: for failures a relay thread cannot continue from.
func fatal(_ message: String) -> Never {
    logLine("fatal: \(message)")
    exit(1)
}

/// A "HOST:PORT" (or a bare "PORT" where a default host is allowed) from the command line.
struct HostAndPort: Sendable, CustomStringConvertible {
    let host: String
    let port: UInt16

    init(parsing text: String, defaultHost: String? = nil) throws {
        let hostPart: Substring
        let portPart: Substring
        if let colon = text.lastIndex(of: ":") {
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        } else if let defaultHost {
            hostPart = Substring(defaultHost)
            portPart = Substring(text)
        } else {
            throw ConfigurationError("expected HOST:PORT, got \"\(text)\"")
        }
        guard let port = UInt16(portPart), !hostPart.isEmpty else {
            throw ConfigurationError("expected HOST:PORT, got \"\(text)\"")
        }
        // "[::1]:6432": the brackets only separate an IPv6 address from the port.
        self.host = hostPart.hasPrefix("[") && hostPart.hasSuffix("]") ? String(hostPart.dropFirst().dropLast()) : String(hostPart)
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

struct ConfigurationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A socket address resolved once at start-up, so that no connection waits for name resolution.
struct ResolvedAddress: Sendable {
    private(set) var storage = sockaddr_storage()
    private(set) var length: socklen_t = 0

    var family: Int32 { Int32(storage.ss_family) }

    init(_ endpoint: HostAndPort) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &results)
        guard rc == 0, let first = results else {
            throw ConfigurationError("cannot resolve \(endpoint): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(results) }
        withUnsafeMutableBytes(of: &storage) { destination in
            destination.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        length = first.pointee.ai_addrlen
    }

    func withSocketAddress<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(of: storage) { bytes in
            try body(bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}

/// The socket calls the epoll and io_uring engines share. Every socket is close-on-exec. The epoll
/// engine's are non-blocking; the io_uring engine's stay blocking, as io_uring expects: it tries
/// each operation without waiting and, when the socket is not ready, waits for readiness itself,
/// where a non-blocking socket could hand EAGAIN back as the operation's result.
enum Sockets {
    /// Listen backlog: pgbench and pool start-ups connect in bursts.
    static let listenBacklog: Int32 = 1024

    /// A listening socket. With `sharedPort` (SO_REUSEPORT) every reactor thread binds its own
    /// listener to the same port and the kernel spreads new connections over them, so that no
    /// accept queue or wake-up is shared between threads.
    static func listener(on address: ResolvedAddress, sharedPort: Bool, nonBlocking: Bool) throws -> Int32 {
        let fd = try streamSocket(family: address.family, nonBlocking: nonBlocking)
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, name: "SO_REUSEADDR")
            if sharedPort {
                try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, name: "SO_REUSEPORT")
            }
            try address.withSocketAddress { pointer, length in
                guard bind(fd, pointer, length) == 0 else { throw SystemCallError("bind") }
            }
            guard listen(fd, listenBacklog) == 0 else { throw SystemCallError("listen") }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    static func streamSocket(family: Int32, nonBlocking: Bool) throws -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0), 0)
        guard fd >= 0 else { throw SystemCallError("socket") }
        return fd
    }

    /// A socket for a relay's upstream connection, with Nagle's algorithm off.
    static func upstreamSocket(family: Int32, nonBlocking: Bool) throws -> Int32 {
        let fd = try streamSocket(family: family, nonBlocking: nonBlocking)
        do {
            try disableNagle(fd)
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// TCP_NODELAY on both sides of the relay: PostgreSQL's messages are small and each one is
    /// waited for by the other end, so Nagle's algorithm would hold a reply back for an ACK.
    static func disableNagle(_ fd: Int32) throws {
        try setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, name: "TCP_NODELAY")
    }

    /// The outcome of a non-blocking connect once the socket reported writable (or an error).
    static func pendingError(_ fd: Int32) -> Int32 {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) == 0 else { return errno }
        return code
    }

    private static func setOption(_ fd: Int32, _ level: Int32, _ option: Int32, _ value: Int32, name: String) throws {
        var value = value
        guard setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SystemCallError("setsockopt(\(name))")
        }
    }
}
