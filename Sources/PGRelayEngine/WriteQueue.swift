#if os(Linux)
import Glibc
import NIOCore

/// The bytes a connection was given to write and has not yet sent, in order.
///
/// Writes are queued as the caller's `ByteBuffer`s (no copy). A flush marks everything queued so
/// far as due; a gathered write (`sendmsg`) then takes up to `Reactor.maximumIOVectors` due
/// buffers at once, and `didSend` drops what went out and keeps the rest of a partly sent buffer
/// for the next attempt.
struct WriteQueue {
    private var buffers = CircularBuffer<ByteBuffer>(initialCapacity: 4)
    /// How many buffers at the front are flushed (due to be sent).
    private var flushedBufferCount = 0
    /// Every byte queued, flushed or not: what the watermarks are measured against.
    private(set) var queuedBytes = 0

    var isEmpty: Bool { buffers.isEmpty }
    var hasFlushedBytes: Bool { flushedBufferCount > 0 }

    /// Queues `buffer`'s readable bytes; an empty buffer is not queued (nothing to send, and a
    /// zero-length iovec would only cost a slot).
    mutating func append(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        buffers.append(buffer)
        queuedBytes += buffer.readableBytes
    }

    /// Makes everything queued so far due.
    mutating func markFlushed() {
        flushedBufferCount = buffers.count
    }

    /// Sends due bytes with one system call: a plain `send` when one buffer is due (the common
    /// case: one message or one relayed read), else a gathered `sendmsg` of up to
    /// `Reactor.maximumIOVectors` buffers. The caller passes what went out to `didSend`.
    func send(to descriptor: Int32, ioVectors: UnsafeMutablePointer<iovec>) -> IOResult {
        if flushedBufferCount == 1 {
            return buffers[buffers.startIndex].withUnsafeReadableBytes { SocketCalls.send(descriptor, $0) }
        }
        let gathered = gather(into: ioVectors, capacity: Reactor.maximumIOVectors)
        return SocketCalls.sendGathered(descriptor, ioVectors, count: gathered.count)
    }

    /// Points `ioVectors` at the due buffers' bytes, up to `capacity` of them; returns how many
    /// iovecs it filled and how many bytes they cover.
    ///
    /// The pointers outlive the closure that lends them: the queue keeps every buffer alive and
    /// unchanged until `didSend` or `removeAll`, and the caller uses them only for the one
    /// system call it makes before either.
    func gather(into ioVectors: UnsafeMutablePointer<iovec>, capacity: Int) -> (count: Int, bytes: Int) {
        let count = min(flushedBufferCount, capacity)
        var bytes = 0
        for offset in 0..<count {
            buffers[buffers.index(buffers.startIndex, offsetBy: offset)].withUnsafeReadableBytes { readable in
                ioVectors[offset] = iovec(iov_base: UnsafeMutableRawPointer(mutating: readable.baseAddress), iov_len: readable.count)
                bytes += readable.count
            }
        }
        return (count, bytes)
    }

    /// Drops the first `count` bytes sent: whole buffers, then the front of a partly sent one.
    mutating func didSend(_ count: Int) {
        if count == queuedBytes {
            // Everything went out (the common case): no per-buffer bookkeeping.
            buffers.removeAll(keepingCapacity: true)
            flushedBufferCount = 0
            queuedBytes = 0
            return
        }
        var remaining = count
        queuedBytes -= count
        while remaining > 0 {
            let front = buffers[buffers.startIndex].readableBytes
            if remaining >= front {
                buffers.removeFirst(1)  // not removeFirst(), which copies the element out
                flushedBufferCount -= 1
                remaining -= front
            } else {
                buffers[buffers.startIndex].moveReaderIndex(forwardBy: remaining)
                remaining = 0
            }
        }
    }

    /// Drops everything (the connection closed).
    mutating func removeAll() {
        buffers.removeAll(keepingCapacity: false)
        flushedBufferCount = 0
        queuedBytes = 0
    }
}
#endif
