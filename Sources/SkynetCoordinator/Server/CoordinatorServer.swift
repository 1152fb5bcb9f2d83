import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SkynetRPC
import Synchronization

/// Serves a `CoordinatorStore` over MessagePack-RPC; for the embedded store it also drives
/// the node's timers (session expiry, watch progress). A swift-service-lifecycle `Service`:
/// on graceful shutdown it stops accepting, drains in-flight calls, then closes the store
/// (the embedded node's log).
public final class CoordinatorServer: Service, Sendable {
    /// The store served.
    public let store: any CoordinatorStore
    /// The embedded node, when that is the store.
    public var node: CoordinatorNode? { store as? CoordinatorNode }
    private let rpc: RPCServer
    /// Access control, when auth is on.
    package let access: AccessControl?
    private let timers = Mutex<[Task<Void, Never>]>([])
    private let expiry = Mutex(ExpiryTimer())
    private let timerLoop: any EventLoop
    private let logger: Logger

    /// Creates a server for the embedded `node` on `host:port` (port 0 picks a free one).
    public convenience init(
        node: CoordinatorNode, host: String = "127.0.0.1", port: Int = 8046, tls: RPCTLS? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.init(store: node, host: host, port: port, tls: tls, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// How often the auth records are re-read, for changes made through another front of
    /// the same store (changes through this one are in force when acknowledged).
    static let authRefreshInterval = Duration.seconds(1)

    /// Creates a server for `store` on `host:port` (port 0 picks a free one), serving TLS
    /// when given it.
    public convenience init(
        store: any CoordinatorStore, host: String = "127.0.0.1", port: Int = 8046, tls: RPCTLS? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.init(store: store, host: host, port: port, tls: tls, access: nil, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Creates a server that, with `access`, requires every caller to authenticate (`auth`)
    /// and checks each call against the roles in the store (`AccessControl.load`).
    package init(
        store: any CoordinatorStore, host: String = "127.0.0.1", port: Int = 8046, tls: RPCTLS? = nil, access: AccessControl?,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.store = store
        self.access = access
        self.logger = logger
        timerLoop = eventLoopGroup.next()
        rpc = RPCServer(
            // Clients with sessions or watches are never idle (keepalives, progress), so five
            // minutes without traffic means a connection nobody uses.
            configuration: .init(host: host, port: port, gracePeriod: .seconds(5), idleTimeout: .seconds(300), tls: tls),
            router: CoordinatorMethods.router(for: store, access: access), eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Binds and starts serving; returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let address = try await rpc.start()
        if let access {
            let store = self.store
            let refresh = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.authRefreshInterval)
                    await access.refresh(from: store)
                }
            }
            timers.withLock { $0.append(refresh) }
        }
        guard let node else { return address }   // other stores keep their own time
        let interval = node.configuration.progressInterval
        let task = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                node.progressTick()
            }
        }
        timers.withLock { $0.append(task) }
        node.setExpiryAlarm { [weak self] deadline in self?.armExpiry(at: deadline) }
        return address
    }

    /// Keeps one timer at the earliest session deadline the node announced: expiries come
    /// on time, and nothing wakes while no deadline is due.
    private func armExpiry(at deadline: Duration) {
        expiry.withLock { armed in
            guard !armed.stopped else { return }
            if let at = armed.at, at <= deadline { return }
            armed.timer?.cancel()
            guard let node else { return }
            let delay = max(.zero, deadline - node.clockNow)
            armed.at = deadline
            armed.timer = timerLoop.scheduleTask(in: TimeAmount(delay)) { [weak self] in self?.expiryFired() }
        }
    }

    private func expiryFired() {
        expiry.withLock { armed in
            armed.at = nil
            armed.timer = nil
        }
        if let next = node?.expireSessions() { armExpiry(at: next) }
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
        timers.withLock { $0.forEach { $0.cancel() } }
        expiry.withLock { armed in
            armed.stopped = true
            armed.timer?.cancel()
        }
        await store.close()
        logger.info("coordinator stopped")
    }
}

/// The session-expiry timer of a `CoordinatorServer`: when it fires, if armed.
private struct ExpiryTimer {
    var at: Duration?
    var timer: Scheduled<Void>?
    var stopped = false
}
