/// Which entry of a `host=` list a pool's next server connection goes to, as PgBouncer's
/// `load_balance_hosts` decides: `round-robin` takes the next host for every new connection;
/// `disable` stays on one host until a connection to it fails, then moves to the next.
public struct HostRotation: Sendable, Equatable {
    public let hostCount: Int
    public let mode: LoadBalanceHosts
    private var counter = 0
    private var lastFailed = false

    public init(hostCount: Int, mode: LoadBalanceHosts) {
        self.hostCount = max(1, hostCount)
        self.mode = mode
    }

    /// The index of the host for a new connection attempt.
    public mutating func next() -> Int {
        if mode == .disable, lastFailed {
            counter &+= 1
            lastFailed = false
        }
        let index = counter % hostCount
        if mode == .roundRobin { counter &+= 1 }
        return index
    }

    /// Reports how the last attempt ended (`disable` moves on only after a failure).
    public mutating func attemptEnded(succeeded: Bool) {
        lastFailed = !succeeded
    }
}
