/// PGRelayCore: configuration, authentication, SQL classification, statistics and the
/// pool/session state machines. Nothing in this module touches sockets or event loops.
public enum PGRelayCore {
    public static let version = "0.1.0"
}
