#if os(Linux)
/// An integer socket option and its value (SO_REUSEPORT, TCP_DEFER_ACCEPT, keepalive, ...).
public struct SocketOption: Sendable, Equatable {
    public var level: Int32
    public var name: Int32
    public var value: Int32
    /// How errors name it ("SO_REUSEPORT").
    public var label: String

    public init(level: Int32, name: Int32, value: Int32, label: String) {
        self.level = level
        self.name = name
        self.value = value
        self.label = label
    }
}
#endif
