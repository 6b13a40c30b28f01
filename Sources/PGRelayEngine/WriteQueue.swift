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
    /// The first queued buffer, kept out of the ring: most of the time one buffer is queued at a
    /// time (one relayed read, one message), and a ring append plus removal costs ~100
    /// instructions per write more. The ring is empty whenever `head` is nil.
    private var head: ByteBuffer?
    /// The buffers queued behind `head`, in order. Made the first time a second buffer is
    /// queued: a ring allocates its storage when it is made (~180 bytes with its header), and an
    /// idle client's connection, most of the connections a pooler holds, never needs one.
    private var rest: CircularBuffer<ByteBuffer>?
    /// How many buffers at the front are flushed (due to be sent).
    private var flushedBufferCount = 0
    /// Every byte queued, flushed or not: what the watermarks are measured against.
    private(set) var queuedBytes = 0

    var isEmpty: Bool { head == nil }
    var hasFlushedBytes: Bool { flushedBufferCount > 0 }

    /// Queues `buffer`'s readable bytes; an empty buffer is not queued (nothing to send, and a
    /// zero-length iovec would only cost a slot).
    mutating func append(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        if head == nil {
            head = buffer
        } else if rest == nil {
            var ring = CircularBuffer<ByteBuffer>(initialCapacity: 4)
            ring.append(buffer)
            rest = ring
        } else {
            rest!.append(buffer)
        }
        queuedBytes += buffer.readableBytes
    }

    /// Makes everything queued so far due.
    mutating func markFlushed() {
        flushedBufferCount = head == nil ? 0 : 1 + (rest?.count ?? 0)
    }

    /// Sends due bytes with one system call: a plain `send` when one buffer is due (the common
    /// case), else a gathered `sendmsg` of up to `Reactor.maximumIOVectors` buffers. The caller
    /// passes what went out to `didSend`.
    ///
    /// `mutating` although it changes nothing: called on a connection's stored queue, a
    /// non-mutating method gets a copy of the whole queue (a retain and release per buffer
    /// reference), a mutating one works in place.
    mutating func send(to descriptor: Int32, ioVectors: UnsafeMutablePointer<iovec>) -> IOResult {
        guard let head, flushedBufferCount > 0 else { return .transferred(0) }
        if flushedBufferCount == 1 {
            return head.withUnsafeReadableBytes { SocketCalls.send(descriptor, $0) }
        }
        let count = gather(into: ioVectors, capacity: Reactor.maximumIOVectors)
        return SocketCalls.sendGathered(descriptor, ioVectors, count: count)
    }

    /// Points `ioVectors` at the due buffers' bytes, up to `capacity` of them; returns how many
    /// iovecs it filled.
    ///
    /// The pointers outlive the closure that lends them: the queue keeps every buffer alive and
    /// unchanged until `didSend` or `removeAll`, and the caller uses them only for the one
    /// system call it makes before either.
    private func gather(into ioVectors: UnsafeMutablePointer<iovec>, capacity: Int) -> Int {
        let count = min(flushedBufferCount, capacity)
        func point(_ offset: Int, at buffer: ByteBuffer) {
            buffer.withUnsafeReadableBytes { readable in
                ioVectors[offset] = iovec(iov_base: UnsafeMutableRawPointer(mutating: readable.baseAddress), iov_len: readable.count)
            }
        }
        point(0, at: head!)
        if count > 1, let ring = rest {
            var index = ring.startIndex
            for offset in 1..<count {
                point(offset, at: ring[index])
                index = ring.index(after: index)
            }
        }
        return count
    }

    /// Drops the first `count` bytes sent: whole buffers, then the front of a partly sent one.
    mutating func didSend(_ count: Int) {
        if count == queuedBytes {
            // Everything went out (the common case): no per-buffer bookkeeping.
            removeAll()
            return
        }
        var remaining = count
        queuedBytes -= count
        while remaining > 0 {
            let front = head!.readableBytes
            if remaining >= front {
                head = rest?.isEmpty ?? true ? nil : rest!.removeFirst()
                flushedBufferCount -= 1
                remaining -= front
            } else {
                head!.moveReaderIndex(forwardBy: remaining)
                remaining = 0
            }
        }
    }

    /// Drops everything (all sent, or the connection closed).
    mutating func removeAll() {
        head = nil
        if rest?.isEmpty == false {
            rest!.removeAll(keepingCapacity: true)
        }
        flushedBufferCount = 0
        queuedBytes = 0
    }
}
#endif
