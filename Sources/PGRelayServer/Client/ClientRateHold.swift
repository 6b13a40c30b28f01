import NIOCore

extension ClientSession {
    /// query_rate_limit: stops reading the client until `untilNanos` (monotonic), so that what it
    /// sends meanwhile waits in its socket, not in pgrelay's memory; then the held bytes are read
    /// again as if they had just arrived, and what they forwarded is flushed.
    func holdReads(untilNanos: Int64) {
        transport.setReading(false)
        loop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(untilNanos))) { [self] in
            // Reading stays off while the server's socket is full (back-pressure has its own say).
            if !readingPausedForServer { transport.setReading(true) }
            clientRead(ByteBuffer())
            clientReadComplete()
        }
    }
}
