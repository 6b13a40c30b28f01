import NIOCore
import PGWire

extension ClientSession {
    /// query_wait_notify: tells a client that has waited that long for a server that it is
    /// queued (PgBouncer's notice, once per wait). A client still logging in gets nothing: the
    /// notice would come before its authentication result.
    func notifyQueued() {
        onLoop { [self] in
            guard stateDescription == "waiting", transport.isActive else { return }
            var buffer = ByteBuffer()
            buffer.writeNoticeResponse(QueueNotice.fields)
            transport.writeAndFlush(buffer)
        }
    }
}

/// The notice a queued client gets.
enum QueueNotice {
    static let fields = ErrorFields(severity: "NOTICE", sqlState: "00000",
                                    message: "No server connection available in postgres backend, client being queued")
}
