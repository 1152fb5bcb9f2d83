import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A MessagePack-RPC server: binds a TCP address, answers requests from an `RPCRouter`.
///
/// Use it as a swift-service-lifecycle `Service` (`run()` serves until graceful shutdown),
/// or call `start()` and `shutdown()` yourself. Calls on one connection run concurrently
/// and are answered as they finish. A connection that breaks the protocol is answered
/// (when its msgid is known) and closed; other connections never notice.
public final class RPCServer: Service, Sendable {
    private enum Phase {
        case idle
        case binding
        case listening(any Channel)
        case stopping
        case stopped
    }

    private struct State {
        var phase: Phase = .idle
        var connections: [ObjectIdentifier: any Channel] = [:]
    }

    /// The configuration the server was made with.
    public let configuration: RPCServerConfiguration
    private let router: RPCRouter
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// One turn ring per event loop, made when the loop gets its first connection.
    /// What the connections of one event loop share: its turn ring and its reply mailbox.
    private struct LoopShared {
        let ring: RPCTurnRing
        let mailbox: RPCReplyMailbox
    }

    private let loops = NIOLockedValueBox([ObjectIdentifier: LoopShared]())
    private let stopped: EventLoopPromise<Void>

    /// Creates a server; nothing is bound until `start()` or `run()`.
    public init(
        configuration: RPCServerConfiguration = .init(), router: RPCRouter,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "skynet.rpc.server")
    ) {
        self.configuration = configuration
        self.router = router
        self.group = eventLoopGroup
        self.logger = logger
        self.stopped = eventLoopGroup.next().makePromise()
    }

    deinit {
        // A server that never started (or whose bind failed) and is dropped without
        // `shutdown()` still completes its lifecycle promise: NIO reports a promise left
        // pending at deinit as a leak and stops the process in debug builds.
        if case .idle = state.withLockedValue({ $0.phase }) { stopped.succeed() }
    }

    /// The bound address once listening, else `nil`.
    public var localAddress: SocketAddress? {
        state.withLockedValue { state in
            if case .listening(let channel) = state.phase { return channel.localAddress }
            return nil
        }
    }

    /// Number of open client connections.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// Binds and starts accepting; returns the bound address (with the real port when
    /// the configuration asked for port 0). Throws if already started or the bind fails.
    @discardableResult
    public func start() async throws -> SocketAddress {
        try state.withLockedValue { state in
            guard case .idle = state.phase else { throw RPCError(.unavailable, "server already started") }
            state.phase = .binding
        }
        if let tls = configuration.tls, !tls.canServe {
            state.withLockedValue { $0.phase = .idle }
            throw RPCError(.unavailable, "serving TLS needs a certificate and its key (-tls-cert and -tls-key)")
        }
        let router = self.router
        let configuration = self.configuration
        let logger = self.logger
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // One accept per event-loop turn: a storm of new connections shares the loop
            // with the connections already served instead of starving them.
            .serverChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Fairness between connections: one socket read of at most 16 KiB per connection
            // per event-loop turn, so a connection that floods requests gets no more of a
            // loop's time than one that sends a request now and then.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16384))
            .childChannelInitializer { [weak self] channel in
                guard let self else { return channel.close() }
                let admission = self.track(channel)
                if admission == .shuttingDown { return channel.close() }
                if admission == .overLimit {
                    logger.warning("refusing a connection over the limit", metadata: ["rpc.max_connections": "\(configuration.maxConnections)"])
                }
                let executor = configuration.handlerExecution == .eventLoop ? EventLoopTaskExecutor(channel.eventLoop) : nil
                let loop = self.shared(by: channel.eventLoop)
                let handlers = { () -> [any ChannelHandler] in
                    guard admission == .accepted else {
                        return [
                            ByteToMessageHandler(RPCFrameDecoder(limits: configuration.limits)),
                            RPCRefusingHandler(RPCError(.resourceExhausted, "the server is at its limit of \(configuration.maxConnections) connections; try again later or another instance")),
                        ]
                    }
                    return [
                        ByteToMessageHandler(RPCFrameDecoder(limits: configuration.limits)),
                        RPCServerConnectionHandler(
                            router: router, executor: executor, ring: loop.ring, mailbox: loop.mailbox,
                            maxInFlight: configuration.maxInFlightPerConnection,
                            maxPerTurn: configuration.maxRequestsPerTurn,
                            goAwayLinger: configuration.goAwayLinger,
                            verifiesPeers: configuration.tls?.settings.requireClientCertificates == true, logger: logger),
                    ]
                }
                let tls = configuration.tls?.serverContext
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if admission == .accepted, let idle = configuration.idleTimeout { try sync.addHandler(IdleStateHandler(allTimeout: TimeAmount(idle))) }
                    if let tls {
                        try sync.addHandler(TLSPortSniffer(context: tls, limits: configuration.limits, rpcHandlers: handlers))
                    } else {
                        try sync.addHandlers(handlers())
                    }
                }
            }
        if let bytes = configuration.sendBufferBytes {
            bootstrap = bootstrap.childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(bytes))
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            state.withLockedValue { $0.phase = .idle }
            throw error
        }
        state.withLockedValue { $0.phase = .listening(channel) }
        let address = channel.localAddress!
        logger.info("rpc server listening", metadata: ["rpc.address": "\(address)"])
        return address
    }

    private enum Admission { case accepted, overLimit, shuttingDown }

    private func shared(by loop: any EventLoop) -> LoopShared {
        loops.withLockedValue { loops in
            if let shared = loops[ObjectIdentifier(loop)] { return shared }
            let shared = LoopShared(ring: RPCTurnRing(loop: loop), mailbox: RPCReplyMailbox(loop: loop))
            loops[ObjectIdentifier(loop)] = shared
            return shared
        }
    }

    /// Registers a new connection, unless the server is shutting down or at its limit.
    private func track(_ channel: any Channel) -> Admission {
        let id = ObjectIdentifier(channel)
        let admission = state.withLockedValue { state -> Admission in
            guard case .listening = state.phase else { return .shuttingDown }
            guard state.connections.count < configuration.maxConnections else { return .overLimit }
            state.connections[id] = channel
            return .accepted
        }
        if admission == .accepted {
            channel.closeFuture.whenComplete { [weak self] _ in
                _ = self?.state.withLockedValue { $0.connections.removeValue(forKey: id) }
            }
        }
        return admission
    }

    /// Serves until graceful shutdown (or cancellation), then shuts down within the grace period.
    public func run() async throws {
        let needsStart = state.withLockedValue { state in
            if case .idle = state.phase { return true }
            return false
        }
        if needsStart { try await start() }
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await stopped.futureResult.get()
        } onCancelOrGracefulShutdown: {
            Task { await self.shutdown() }
        }
    }

    /// Stops accepting, lets in-flight calls finish for up to `gracePeriod` (the
    /// configuration's when `nil`), answers new requests `Unavailable` meanwhile, then
    /// closes every connection. Safe to call more than once; later calls wait for the first.
    public func shutdown(gracePeriod: Duration? = nil) async {
        let (listener, connections, neverStarted) = state.withLockedValue { state -> ((any Channel)?, [any Channel], Bool) in
            switch state.phase {
            case .idle:
                state.phase = .stopped
                return (nil, [], true)
            case .listening(let channel):
                state.phase = .stopping
                return (channel, Array(state.connections.values), false)
            case .binding, .stopping, .stopped:
                return (nil, [], false)
            }
        }
        if neverStarted { stopped.succeed() }
        guard let listener else {
            try? await stopped.futureResult.get()
            return
        }
        try? await listener.close()
        logger.info("rpc server draining", metadata: ["rpc.connections": "\(connections.count)"])
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(RPCServerQuiesceEvent())
        }
        let grace = gracePeriod ?? configuration.gracePeriod
        let loop = group.next()
        let forceClose = loop.scheduleTask(in: TimeAmount(grace)) {
            for connection in connections { connection.close(promise: nil) }
        }
        let allClosed = EventLoopFuture.andAllComplete(connections.map(\.closeFuture), on: loop)
        try? await allClosed.get()
        forceClose.cancel()
        state.withLockedValue { $0.phase = .stopped }
        logger.info("rpc server stopped")
        stopped.succeed()
    }
}

extension TimeAmount {
    /// The NIO form of a Swift `Duration`, to the nanosecond.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
