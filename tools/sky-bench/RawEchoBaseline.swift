import NIOCore
import NIOPosix

/// The baseline: a NIO server that echoes the bytes it reads without decoding them, and
/// a client with the same shape as `RPCConnection` (async call, promise per call,
/// pipelined) that matches fixed-size answers in order. What the RPC path costs on top
/// of this is MessagePack, framing, dispatch and msgid matching.
enum RawEchoBaseline {
    final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.write(data, promise: nil) }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
    }

    static func startServer(group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    struct Call {
        let bytes: ByteBuffer
        let promise: EventLoopPromise<Void>
    }

    final class ClientHandler: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = Call
        typealias OutboundOut = ByteBuffer
        private let frameSize: Int
        private var waiting = CircularBuffer<EventLoopPromise<Void>>()
        private var received = 0

        init(frameSize: Int) { self.frameSize = frameSize }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let call = unwrapOutboundIn(data)
            waiting.append(call.promise)
            context.write(wrapOutboundOut(call.bytes), promise: promise)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += unwrapInboundIn(data).readableBytes
            while received >= frameSize, let promise = waiting.popFirst() {
                received -= frameSize
                promise.succeed()
            }
        }
    }

    final class Client: Sendable {
        let channel: any Channel
        let frame: ByteBuffer

        init(port: Int, frame: ByteBuffer, group: any EventLoopGroup) async throws {
            self.frame = frame
            let size = frame.readableBytes
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ClientHandler(frameSize: size)) }
                }
                .connect(host: "127.0.0.1", port: port).get()
        }

        func call() async throws {
            let promise = channel.eventLoop.makePromise(of: Void.self)
            channel.writeAndFlush(Call(bytes: frame, promise: promise)).whenFailure { promise.fail($0) }
            try await promise.futureResult.get()
        }
    }
}
