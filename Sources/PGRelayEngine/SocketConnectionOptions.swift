#if os(Linux)

/// The per-connection settings of the engine's sockets.
public struct SocketConnectionOptions: Sendable, Equatable {
    /// Above this many queued output bytes the connection turns unwritable.
    public var highWatermark: Int
    /// At or below this many queued output bytes an unwritable connection turns writable again.
    /// The gap between the two keeps writability from flapping with every small write.
    public var lowWatermark: Int

    /// Out-of-range values are clamped rather than trapped on: the high watermark is at least 1
    /// byte and the low one between 0 and the high one.
    public init(highWatermark: Int = 64 * 1024, lowWatermark: Int = 32 * 1024) {
        self.highWatermark = max(highWatermark, 1)
        self.lowWatermark = min(max(lowWatermark, 0), self.highWatermark)
    }
}
#endif
