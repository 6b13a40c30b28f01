/// Bounds checked before any allocation when reading messages from a peer.
public struct ProtocolLimits: Sendable, Equatable {
    /// Largest regular message (type byte excluded, length word included) accepted from a server or client.
    public var maxMessageLength: Int
    /// Largest untyped startup packet (StartupMessage, SSLRequest, CancelRequest) accepted from a client.
    public var maxStartupPacketLength: Int

    public init(maxMessageLength: Int = 1 << 30, maxStartupPacketLength: Int = 10_000) {
        self.maxMessageLength = maxMessageLength
        self.maxStartupPacketLength = maxStartupPacketLength
    }
}
