import Logging
import NIOCore
import NIOPosix
import PGRelayCore
import PGWire

/// Sends a CancelRequest for a server's backend key on a connection of its own, as libpq does.
enum CancelForwarder {
    /// How long the server may take to close the cancel connection after reading the request.
    static let answerTimeout = TimeAmount.seconds(5)

    /// `done` runs once, on `loop`, when the server has closed the connection (it has signalled
    /// the backend), when it could not be reached, or after `answerTimeout`.
    static func send(_ key: CancelRequest, to address: BackendAddress, on loop: EventLoop, logger: Logger,
                     done: @escaping () -> Void = {}) {
        ClientBootstrap(group: loop)
            .connectTimeout(answerTimeout)
            .connect(host: address.host, port: address.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    var buffer = channel.allocator.buffer(capacity: 16)
                    buffer.writeCancelRequest(key)
                    channel.closeFuture.whenComplete { _ in done() }
                    channel.writeAndFlush(buffer).whenComplete { _ in
                        channel.eventLoop.scheduleTask(in: answerTimeout) { channel.close(promise: nil) }
                    }
                case .failure(let error):
                    logger.warning("could not forward cancel request", metadata: ["backend": "\(address.host):\(address.port)", "error": "\(error)"])
                    done()
                }
            }
    }
}
