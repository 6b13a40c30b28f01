#if os(Linux)
import NIOCore

/// The buffer a reactor's connections read into, one per reactor.
///
/// A read fills the buffer and hands its bytes to the connection's delegate as a `ByteBuffer`.
/// The next read clears the same buffer: when the delegate has let go of every copy of it (it
/// forwarded the bytes and the write completed, or it parsed them), `ByteBuffer.clear()` finds
/// the storage uniquely referenced and keeps it, so that steady-state reads allocate nothing; a
/// delegate that still holds the bytes (a write queued behind a slow peer, a partial message)
/// keeps that storage alive, and the clear allocates a new one of the same size. One buffer per
/// reactor rather than per connection: idle connections hold no receive memory.
struct ReceiveBufferPool {
    let bufferSize: Int
    private let allocator: ByteBufferAllocator
    private var spare: ByteBuffer?

    init(bufferSize: Int, allocator: ByteBufferAllocator) {
        self.bufferSize = bufferSize
        self.allocator = allocator
    }

    /// An empty buffer of `bufferSize` writable bytes. The pool keeps no reference to it, so
    /// writing into it does not copy.
    mutating func take() -> ByteBuffer {
        // Moved out, not copied: a copy and `spare = nil` cost a retain and a release per read.
        guard var buffer = spare.take() else { return allocator.buffer(capacity: bufferSize) }
        buffer.clear()
        return buffer
    }

    /// Keeps `buffer` (which may have been handed to a delegate) for the next `take`.
    mutating func giveBack(_ buffer: consuming ByteBuffer) {
        spare = buffer
    }
}
#endif
