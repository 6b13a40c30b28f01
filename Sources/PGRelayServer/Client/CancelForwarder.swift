import Logging
import NIOCore
import NIOPosix
import PGRelayCore
import PGWire

/// Sends a CancelRequest for a server's backend key on a connection of its own, as libpq does.
enum CancelForwarder {
    static func send(_ key: CancelRequest, to address: BackendAddress, on loop: EventLoop, logger: Logger) {
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .connect(host: address.host, port: address.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    var buffer = channel.allocator.buffer(capacity: 16)
                    buffer.writeCancelRequest(key)
                    channel.writeAndFlush(buffer).whenComplete { _ in
                        // The server closes the connection itself once it has read the request.
                        channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
                    }
                case .failure(let error):
                    logger.warning("could not forward cancel request", metadata: ["backend": "\(address.host):\(address.port)", "error": "\(error)"])
                }
            }
    }
}
