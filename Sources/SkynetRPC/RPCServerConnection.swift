import MessagePack
import NIOCore

/// The connection a call arrived on, as a handler sees it: it can push notifications to
/// the caller (watch events, progress) and observe the connection closing.
public struct RPCServerConnection: Sendable {
    let channel: any Channel

    /// True while the connection is open.
    public var isActive: Bool { channel.isActive }

    /// Pushes `[2, method, params]` to the peer. Throws `Unavailable` once the connection is closed.
    public func notify(_ method: String, _ params: [MessagePackValue]) async throws {
        let bytes = RPCMessage.notification(method: method, params: params).encoded(allocator: channel.allocator)
        do {
            try await channel.writeAndFlush(bytes).get()
        } catch {
            throw RPCError(.unavailable, "connection closed: \(error)")
        }
    }

    /// Completes when the connection has closed.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}
