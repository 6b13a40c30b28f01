import NIOConcurrencyHelpers

/// Guards the text fields of clients and servers that their event loop writes rarely (the TLS
/// description once per handshake, a client's user and database at login, its application
/// name) and other threads may read (KILL's database filter). One lock for every
/// connection: a lock object per connection would cost memory for each idle client, and with a
/// few writes per connection nobody waits.
enum ConnectionTextLock {
    private static let lock = NIOLock()

    static func withLock<Result>(_ body: () -> Result) -> Result {
        lock.withLock(body)
    }
}
