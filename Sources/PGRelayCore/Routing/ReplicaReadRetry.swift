/// Whether a read sent to a replica may be sent again elsewhere because the replica's session
/// ended before it answered anything.
///
/// A replica that is shut down, restarted after a crash, or whose postmaster died ends its
/// sessions with a FATAL error of class 57 (57P01 "terminating connection due to unexpected
/// postmaster exit" or "... administrator command", 57P02 crash of another backend, 57P03
/// "the database system is shutting down"), sent to a backend that has just received a read: the
/// read never ran, so it is as safe to send again as one whose connection dropped without a word.
/// Any other error is the read's own answer and reaches the client.
public enum ReplicaReadRetry {
    /// `answered`: some of the server's answer has already reached the client;
    /// `inTransaction`: the read runs inside a transaction the client opened (not retried:
    /// the transaction's earlier statements ran on that replica).
    public static func retriesAfterError(sqlState: String?, answered: Bool, inTransaction: Bool,
                                         readsInFlight: Int) -> Bool {
        guard !answered, !inTransaction, readsInFlight > 0, let sqlState else { return false }
        return sessionEndingStates.contains(sqlState)
    }

    static let sessionEndingStates: Set<String> = ["57P01", "57P02", "57P03"]
}
