import NIOCore

/// Where the proxy's own writes to one connection enter NIO's pipeline.
///
/// `channel.write` starts at the pipeline's tail and wraps the value through a generic
/// path; writing from the proxy's handler context (the last handler, so every TLS handler
/// still sits between it and the socket) skips both, which callgrind puts at several hundred
/// instructions per write and per flush. A context may only be used on its event loop, and a
/// server is written to from its client's loop when the two differ (session pooling): the
/// caller says which (asking NIO costs a thread-local lookup per write). Off the loop, and
/// without a context (before the handler is added, after it is gone), writes go to the
/// channel, which hops to its loop and drops writes once it is closed.
struct HandlerOutbound {
    /// Set once, on the connection's loop, before any write; read from any loop.
    private var channel: Channel?
    /// Only touched on the connection's loop.
    private var context: ChannelHandlerContext?

    mutating func attach(_ context: ChannelHandlerContext) {
        channel = context.channel
        self.context = context
    }

    /// Drops the context (and with it the cycle context → handler → owner → context).
    mutating func detach() {
        context = nil
    }

    /// `onOwnLoop`: the caller runs on this connection's event loop.
    func write(_ buffer: ByteBuffer, onOwnLoop: Bool) {
        if let context = usableContext(onOwnLoop) {
            context.write(NIOAny(buffer), promise: nil)
        } else {
            channel?.write(buffer, promise: nil)
        }
    }

    func flush(onOwnLoop: Bool) {
        if let context = usableContext(onOwnLoop) {
            context.flush()
        } else {
            channel?.flush()
        }
    }

    /// The last write before a flush, in one walk of the pipeline instead of two.
    func writeAndFlush(_ buffer: ByteBuffer, onOwnLoop: Bool) {
        if let context = usableContext(onOwnLoop) {
            context.writeAndFlush(NIOAny(buffer), promise: nil)
        } else {
            channel?.writeAndFlush(buffer, promise: nil)
        }
    }

    private func usableContext(_ onOwnLoop: Bool) -> ChannelHandlerContext? {
        guard onOwnLoop, let context else { return nil }
        assert(context.eventLoop.inEventLoop)
        return context
    }
}
