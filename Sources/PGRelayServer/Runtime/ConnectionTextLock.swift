import NIOConcurrencyHelpers

/// Guards the text fields of clients and servers that their event loop writes rarely (the TLS
/// description, once per handshake) and the admin views read from other threads (SHOW
/// CLIENTS/SERVERS, /clients). One lock for every connection: a lock object per connection
/// would cost memory for each idle client, and with one write per connection nobody waits.
enum ConnectionTextLock {
    private static let lock = NIOLock()

    static func withLock<Result>(_ body: () -> Result) -> Result {
        lock.withLock(body)
    }
}
