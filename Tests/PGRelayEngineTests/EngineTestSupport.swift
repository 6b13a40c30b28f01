#if os(Linux)
import Foundation
import Glibc
import NIOCore
import XCTest

@testable import PGRelayEngine

/// What a `RecordingDelegate` saw, in order.
enum ConnectionEvent: Equatable, Sendable {
    case received(String)
    case readComplete
    case writability(Bool)
    case closed(SocketConnection.CloseReason)
}

/// A delegate that records every call (on its reactor's thread; read it with `snapshot`) and can
/// be told to do something on each.
final class RecordingDelegate: SocketConnectionDelegate, @unchecked Sendable {
    var events: [ConnectionEvent] = []
    var receivedBytes: [UInt8] = []
    /// The base address of each received buffer's bytes, to see whether storage was reused.
    var receivedStorageAddresses: [UInt] = []
    /// Buffers kept when `keepsBuffers` is set (a consumer that does not let go).
    var keptBuffers: [ByteBuffer] = []
    var keepsBuffers = false
    var onReceived: ((ByteBuffer, SocketConnection) -> Void)?
    var onWritabilityChanged: ((Bool, SocketConnection) -> Void)?
    var onClosed: ((SocketConnection) -> Void)?

    func bytesReceived(_ bytes: ByteBuffer, on connection: SocketConnection) {
        events.append(.received(String(buffer: bytes)))
        receivedBytes += bytes.readableBytesView
        receivedStorageAddresses.append(bytes.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) })
        if keepsBuffers {
            keptBuffers.append(bytes)
        }
        onReceived?(bytes, connection)
    }

    func readComplete(on connection: SocketConnection) {
        events.append(.readComplete)
    }

    func writabilityChanged(_ isWritable: Bool, on connection: SocketConnection) {
        events.append(.writability(isWritable))
        onWritabilityChanged?(isWritable, connection)
    }

    func closed(_ reason: SocketConnection.CloseReason, on connection: SocketConnection) {
        events.append(.closed(reason))
        onClosed?(connection)
    }

    var closeEvents: [ConnectionEvent] {
        events.filter { if case .closed = $0 { return true } else { return false } }
    }
}

enum EngineTest {
    /// Waits (polling on `reactor`) until `condition`, run on the reactor, is true.
    static func waitUntil(
        on reactor: Reactor, timeout: TimeInterval = 10, file: StaticString = #filePath, line: UInt = #line,
        _ condition: @escaping @Sendable () -> Bool
    ) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? reactor.submit(condition).wait()) == true { return }
            usleep(2_000)
        }
        XCTFail("condition not met within \(timeout) s", file: file, line: line)
    }

    /// Runs `body` on `reactor` and returns its result.
    static func onReactor<T: Sendable>(_ reactor: Reactor, _ body: @escaping @Sendable () throws -> T) throws -> T {
        try reactor.submit(body).wait()
    }

    /// A connected Unix socket pair: the first end non-blocking for the engine, the second
    /// blocking (with a 10 s receive timeout) for the test to drive by hand.
    static func socketPair() throws -> (engineSide: Int32, testSide: Int32) {
        var descriptors: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &descriptors) == 0 else {
            throw SystemCallError("socketpair")
        }
        let flags = fcntl(descriptors[0], F_GETFL)
        _ = fcntl(descriptors[0], F_SETFL, flags | O_NONBLOCK)
        setReceiveTimeout(descriptors[1], seconds: 10)
        return (descriptors[0], descriptors[1])
    }

    static func setReceiveTimeout(_ descriptor: Int32, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A started connection on `reactor` over the engine side of a new socket pair.
    static func connectionPair(
        on reactor: Reactor, options: SocketConnectionOptions = .init(), delegate: RecordingDelegate
    ) throws -> (connection: SocketConnection, testSide: Int32) {
        let (engineSide, testSide) = try socketPair()
        let connection = try onReactor(reactor) {
            let connection = SocketConnection(descriptor: engineSide, reactor: reactor, options: options, registration: nil)
            connection.start(delegate: delegate)
            return connection
        }
        return (connection, testSide)
    }

    static func writeAll(_ descriptor: Int32, _ text: String) {
        writeAll(descriptor, Array(text.utf8))
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { XCTFail("send: errno \(errno)"); return }
            offset += written
        }
    }

    /// Reads exactly `count` bytes (or until end of input or the receive timeout).
    static func read(_ descriptor: Int32, count: Int) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < count {
            let got = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, min($0.count, count - result.count), 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            result += chunk[0..<got]
        }
        return result
    }

    /// Reads until end of input: what arrived, and whether the end was an orderly 0.
    static func readToEnd(_ descriptor: Int32) -> (bytes: [UInt8], sawEndOfInput: Bool) {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            if got == 0 { return (result, true) }
            if got < 0 { return (result, false) }
            result += chunk[0..<got]
        }
    }

    /// Shuts a group down once, so that libdispatch's global queue (which a group's shutdown
    /// joins its threads on) has made its own descriptors (an eventfd and an epoll for its
    /// manager thread, made on first use) before a test counts descriptors.
    static func startDispatchWorkers() throws {
        try ReactorGroup(workers: 1, namePrefix: "warm-up").syncShutdownGracefully()
    }

    /// The process's open descriptors.
    static func openDescriptorCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// A blocking TCP client socket connected to `address`.
    static func blockingClient(to address: SocketAddress) throws -> Int32 {
        let descriptor = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemCallError("socket") }
        let result = address.withSockAddr { connect(descriptor, $0, socklen_t($1)) }
        guard result == 0 else {
            let error = SystemCallError("connect")
            close(descriptor)
            throw error
        }
        setReceiveTimeout(descriptor, seconds: 10)
        return descriptor
    }

    /// A unique Unix socket path under /tmp.
    static func temporarySocketPath() -> String {
        "/tmp/pgrelay-engine-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    }
}

/// A group per test, shut down at the end.
class ReactorTestCase: XCTestCase {
    var group: ReactorGroup!
    var reactor: Reactor { group.reactors[0] }
    /// Reactors a test's group has; override for more.
    var workers: Int { 1 }

    override func setUpWithError() throws {
        group = try ReactorGroup(workers: workers, namePrefix: "test")
    }

    override func tearDownWithError() throws {
        try group?.syncShutdownGracefully()
        group = nil
    }
}
#endif
