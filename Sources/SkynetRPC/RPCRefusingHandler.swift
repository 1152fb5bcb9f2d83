import NIOCore

/// Serves a connection the server cannot take: answers its first request with `error`
/// and closes; one that sends no request within five seconds is closed anyway, so refused
/// connections cannot pile up.
final class RPCRefusingHandler: ChannelInboundHandler {
    typealias InboundIn = RPCMessage
    typealias OutboundOut = ByteBuffer

    private let error: RPCError
    private var answered = false

    init(_ error: RPCError) {
        self.error = error
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .seconds(5)) { bound.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case let .request(msgid, _, _) = unwrapInboundIn(data), !answered else { return }
        answered = true
        var buffer = context.channel.allocator.buffer(capacity: 128)
        RPCMessage.failure(msgid, error).write(to: &buffer)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in bound.value.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
