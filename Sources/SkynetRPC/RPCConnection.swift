import Logging
import MessagePack
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One client TCP connection carrying many calls at once, matched to answers by msgid.
///
/// `call` is safe from any task; calls are pipelined and may be answered in any order.
/// A call fails with `DeadlineExceeded` when its timeout passes, and every call in
/// flight fails with `Unavailable` the moment the connection is lost. Notifications the
/// server pushes arrive on `notifications`.
public final class RPCConnection: Sendable {
    /// How a connection connects and what it accepts.
    public struct Configuration: Sendable {
        /// Limits on every incoming frame; outgoing requests over `maxMessageSize` are refused.
        public var limits: MessagePackLimits
        /// How long connecting may take.
        public var connectTimeout: Duration
        /// Timeout for calls that give none; `nil` waits as long as the connection lives.
        public var defaultTimeout: Duration?
        /// TLS for the connection; `nil` is plain TCP. The server's certificate must chain
        /// to the CA and name the host dialled (its IP address, when dialled by address).
        public var tls: RPCTLS?

        /// Creates a configuration.
        public init(limits: MessagePackLimits = .default, connectTimeout: Duration = .seconds(5), defaultTimeout: Duration? = .seconds(30), tls: RPCTLS? = nil) {
            self.limits = limits
            self.connectTimeout = connectTimeout
            self.defaultTimeout = defaultTimeout
            self.tls = tls
        }
    }

    /// Notifications buffered for a consumer that has not read them; one more ends the
    /// connection (`Unavailable`) rather than dropping one silently.
    public static let maxBufferedNotifications = 8_192

    private let channel: any Channel
    private let configuration: Configuration
    private let nextMsgid = Atomic<UInt32>(0)
    private let closing: RPCClosingFlag
    private let outbox = RPCOutbox()
    /// Where the connection goes.
    public let peer: String
    /// Notifications pushed by the server, in arrival order; finishes when the connection closes.
    public let notifications: AsyncStream<RPCNotification>

    private init(
        channel: any Channel, configuration: Configuration, peer: String, notifications: AsyncStream<RPCNotification>, closing: RPCClosingFlag
    ) {
        self.channel = channel
        self.configuration = configuration
        self.peer = peer
        self.notifications = notifications
        self.closing = closing
    }

    /// Connects to `host:port`.
    public static func connect(
        host: String, port: Int, configuration: Configuration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "skynet.rpc.client")
    ) async throws -> RPCConnection {
        let peer = "\(host):\(port)"
        let (stream, continuation) = AsyncStream.makeStream(of: RPCNotification.self, bufferingPolicy: .bufferingOldest(maxBufferedNotifications))
        let closing = RPCClosingFlag()
        let tls = configuration.tls?.clientContext
        // SNI and name checks take a host name; an address is checked against the
        // certificate's IP addresses instead.
        let serverName = tls != nil && !Self.isAddressLiteral(host) ? host : nil
        let handshake = tls.map { _ in eventLoopGroup.any().makePromise(of: Void.self) }
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls, let handshake {
                        try sync.addHandlers(NIOSSLClientHandler(context: tls, serverHostname: serverName), TLSHandshakeWaiter(done: handshake))
                    }
                    try sync.addHandlers(
                        ByteToMessageHandler(RPCFrameDecoder(limits: configuration.limits)),
                        RPCConnectionHandler(peer: peer, notifications: continuation, closing: closing, logger: logger))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            continuation.finish()
            handshake?.fail(error)
            throw RPCError(.unavailable, "cannot connect to \(peer): \(ConnectFailure.reason(error))")
        }
        if let handshake {
            let timeout = configuration.connectTimeout
            let expiry = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { handshake.fail(RPCError(.unavailable, "the TLS handshake did not finish within \(timeout)")) }
            do {
                try await handshake.futureResult.get()
                expiry.cancel()
            } catch {
                expiry.cancel()
                channel.close(promise: nil)
                let reason = (error as? RPCError)?.message ?? TLSFailure.reason(error)
                throw RPCError(.unavailable, "TLS with \(peer) failed: \(reason)")
            }
        }
        return RPCConnection(channel: channel, configuration: configuration, peer: peer, notifications: stream, closing: closing)
    }

    private static func isAddressLiteral(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// True until the connection is closing (closed by its user, or asked to go away by a
    /// server shutting down) or lost: pick another for new calls.
    public var isActive: Bool { channel.isActive && !closing.isSet }

    /// Calls `method` with raw positional params and returns the raw result.
    ///
    /// Throws `RPCError`: the server's own error, `DeadlineExceeded` after `timeout`,
    /// `Unavailable` when the connection is or becomes unusable, `TooLarge` when the
    /// request is over the size limit (it is then not sent).
    public func call(
        _ method: String, _ params: [MessagePackValue], timeout: Duration? = nil, metadata: RPCCallMetadata? = nil
    ) async throws -> MessagePackValue {
        guard !closing.isSet else { throw RPCError.notSent("connection to \(peer) is closing") }
        if let reason = closing.lostReason { throw reason }
        let msgid = nextMsgid.wrappingAdd(1, ordering: .relaxed).newValue
        var buffer = channel.allocator.buffer(capacity: 64)
        RPCMessage.request(msgid: msgid, method: method, params: metadata.map { params + [$0.value] } ?? params).write(to: &buffer)
        guard buffer.readableBytes <= configuration.limits.maxMessageSize else {
            throw RPCError(.tooLarge, "request of \(buffer.readableBytes) bytes exceeds the maximum message size of \(configuration.limits.maxMessageSize) bytes")
        }
        let timeout = timeout ?? configuration.defaultTimeout
        let promise = channel.eventLoop.makePromise(of: MessagePackValue.self)
        let call = RPCOutboundCall(msgid: msgid, bytes: buffer, promise: promise, deadline: timeout.map { .now() + TimeAmount($0) })
        if outbox.add(call) {
            let (channel, outbox, closing, peer) = (self.channel, self.outbox, self.closing, self.peer)
            channel.eventLoop.execute {
                let batch = outbox.take()
                // Never empty (a take is scheduled only by the call that found the outbox
                // empty); checked because an empty write would leave its promise pending.
                guard !batch.isEmpty else { return }
                channel.writeAndFlush(RPCOutbound.calls(batch)).whenFailure { error in
                    // A connection that failed says why (a TLS refusal), not only that it is closed.
                    let reason = closing.lostReason ?? RPCError.notSent("cannot send to \(peer): \(error)")
                    for call in batch { call.promise.fail(reason) }
                }
            }
        }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: { [channel] in
            channel.triggerUserOutboundEvent(RPCCancelCall(msgid: msgid, error: RPCError(.unavailable, "call cancelled")), promise: nil)
        }
    }

    /// Calls `method` with typed positional arguments and decodes the result as `R`.
    public func call<each A: Encodable, R: Decodable>(
        _ method: String, _ arguments: repeat each A, returning type: R.Type = R.self, timeout: Duration? = nil
    ) async throws -> R {
        let encoder = MessagePackEncoder()
        var params: [MessagePackValue] = []
        for argument in repeat each arguments { params.append(try encoder.encodeToValue(argument)) }
        let result = try await call(method, params, timeout: timeout)
        do {
            return try MessagePackDecoder().decode(type, from: result)
        } catch {
            throw RPCError(.badRequest, "result of \(method) from \(peer): \((error as? DecodingError)?.messagePackDescription ?? "\(error)")")
        }
    }

    /// Sends a notification; nothing answers it.
    public func notify(_ method: String, _ params: [MessagePackValue]) async throws {
        let bytes = RPCMessage.notification(method: method, params: params).encoded(allocator: channel.allocator)
        try await channel.writeAndFlush(RPCOutbound.notification(bytes)).get()
    }

    /// Closes cleanly: new calls are refused at once, calls in flight get their answers
    /// (or their deadlines), then the TCP connection is closed.
    public func close() async {
        guard !closing.set() else {
            try? await channel.closeFuture.get()
            return
        }
        let drained = channel.eventLoop.makePromise(of: Void.self)
        channel.triggerUserOutboundEvent(RPCDrainEvent(), promise: drained)
        try? await drained.futureResult.get()
        try? await channel.close()
    }

    /// Completes when the connection has closed, for whatever reason.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}
