import MessagePack
import NIOCore
import NIOSSL

/// The first handler on a TLS port. A peer whose first byte opens a TLS handshake record
/// gets TLS in front of the RPC handlers; one that speaks plain MessagePack-RPC gets its
/// first request answered `Unauthorized`, naming the fix, and is closed, rather than
/// waiting on a handshake that never comes.
final class TLSPortSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// The first byte of every TLS record that opens a handshake (content type 22).
    private static let handshakeRecord: UInt8 = 0x16

    private let context: NIOSSLContext
    private let limits: MessagePackLimits
    private let rpcHandlers: () -> [any ChannelHandler]
    private var decided = false

    init(context: NIOSSLContext, limits: MessagePackLimits, rpcHandlers: @escaping () -> [any ChannelHandler]) {
        self.context = context
        self.limits = limits
        self.rpcHandlers = rpcHandlers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else { return context.fireChannelRead(data) }
        decided = true
        let buffer = unwrapInboundIn(data)
        let sync = context.pipeline.syncOperations
        do {
            if buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == Self.handshakeRecord {
                try sync.addHandlers([NIOSSLServerHandler(context: self.context)] + rpcHandlers(), position: .after(self))
            } else {
                let refusal = RPCError(.unauthorized, "this port speaks TLS: connect with TLS (-tls-ca FILE, or SKYNET_TLS_CA)")
                try sync.addHandlers(ByteToMessageHandler(RPCFrameDecoder(limits: limits)), RPCRefusingHandler(refusal), position: .after(self))
            }
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        sync.removeHandler(context: context, promise: nil)
    }
}
