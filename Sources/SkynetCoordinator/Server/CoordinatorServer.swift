import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SkynetRPC
import Synchronization

/// Serves a `CoordinatorNode` over MessagePack-RPC and drives its timers (session expiry,
/// watch progress). A swift-service-lifecycle `Service`: on graceful shutdown it stops
/// accepting, drains in-flight calls, then closes the node's log.
public final class CoordinatorServer: Service, Sendable {
    /// The node served.
    public let node: CoordinatorNode
    private let rpc: RPCServer
    private let timers = Mutex<Task<Void, Never>?>(nil)
    private let logger: Logger

    /// Creates a server for `node` on `host:port` (port 0 picks a free one).
    public init(
        node: CoordinatorNode, host: String = "127.0.0.1", port: Int = 8046,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.node = node
        self.logger = logger
        rpc = RPCServer(
            // Clients with sessions or watches are never idle (keepalives, progress), so five
            // minutes without traffic means a connection nobody uses.
            configuration: .init(host: host, port: port, gracePeriod: .seconds(5), idleTimeout: .seconds(300)),
            router: CoordinatorMethods.router(for: node), eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Binds and starts serving; returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let address = try await rpc.start()
        let node = self.node
        let configuration = node.configuration
        let task = Task {
            var sinceProgress = Duration.zero
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.expiryCheckInterval)
                node.expireSessions()
                sinceProgress += configuration.expiryCheckInterval
                if sinceProgress >= configuration.progressInterval {
                    sinceProgress = .zero
                    node.progressTick()
                }
            }
        }
        timers.withLock { $0 = task }
        return address
    }

    /// The bound address once started.
    public var localAddress: SocketAddress? { rpc.localAddress }

    /// Serves until graceful shutdown or cancellation, then shuts down.
    public func run() async throws {
        if rpc.localAddress == nil { try await start() }
        await withGracefulShutdownHandler {
            try? await rpc.run()
        } onGracefulShutdown: {
            Task { await self.rpc.shutdown() }
        }
        await shutdown()
    }

    /// Stops serving (draining in-flight calls), stops the timers and closes the node's log.
    public func shutdown() async {
        await rpc.shutdown()
        timers.withLock { $0?.cancel() }
        node.stop()
        logger.info("coordinator stopped")
    }
}
