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

    /// Identifies the connection while it lives (for tables keyed by connection).
    public var id: ObjectIdentifier { ObjectIdentifier(channel) }

    /// Writes bytes that already hold whole encoded messages, and flushes. `completion` is
    /// called with `true` once they left for the socket, `false` when the connection is
    /// closed. For pushing many notifications with one write and no task per message.
    public func writeEncoded(_ bytes: [UInt8], completion: @escaping @Sendable (Bool) -> Void) {
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.writeAndFlush(buffer).whenComplete { result in
            if case .success = result { completion(true) } else { completion(false) }
        }
    }

    /// Calls `body` once the connection has closed (at once if it already has).
    public func onClose(_ body: @escaping @Sendable () -> Void) {
        channel.closeFuture.whenComplete { _ in body() }
    }

    /// Completes when the connection has closed.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}
