import Hummingbird
import Logging
import SkynetRPC
import NIOCore
import Prometheus
import ServiceLifecycle
import Skynet
import SkynetTimer
import Synchronization

/// What the console's routes share: the registry feed, a coordinator client, the timer
/// instance in this process (if any), and how long an admin call may take.
struct ConsoleState: Sendable {
    let feed: RegistryFeed
    let coordinator: CoordinatorClient
    let timer: TimerServer?
    let adminTimeout: Duration
}

/// `/metrics`: the registry the executable bootstrapped swift-metrics with, and what to
/// bring up to date just before a scrape (figures read on demand, such as the store's).
public struct ConsoleMetrics: Sendable {
    /// The registry whose series `/metrics` renders.
    public var registry: PrometheusCollectorRegistry
    /// Runs before each scrape.
    public var refresh: @Sendable () async -> Void

    /// Metrics from `registry`, refreshed by `refresh` before each scrape.
    public init(registry: PrometheusCollectorRegistry, refresh: @escaping @Sendable () async -> Void = {}) {
        self.registry = registry
        self.refresh = refresh
    }
}

/// `skynetd`'s HTTP port: the dashboard (`/`), its JSON API and event streams (`/api/...`),
/// `/metrics`, and the routes of the timer instance in this process (`/timer`, `/ping`).
///
/// Run it in a `ServiceGroup`: it serves until graceful shutdown, when it ends the open
/// event streams (browsers reconnect to whoever serves next) and drains.
public final class ConsoleServer: ServiceLifecycle.Service, Sendable {
    private let host: String
    private let port: Int
    private let state: ConsoleState
    private let metrics: ConsoleMetrics?
    private let logger: Logger
    private let bound = Mutex<(port: Int?, ended: Bool, waiters: [CheckedContinuation<Int?, Never>])>((nil, false, []))
    private let onListening: @Sendable (_ port: Int) async -> Void

    /// A console on `host:port` (0 picks a free port) over the coordinator at
    /// `coordinators`; `timer` adds its HTTP API (create that instance with no HTTP address
    /// of its own); `metrics` serves `/metrics`; `tls` serves the HTTP port over TLS (the
    /// same certificate, and client certificates when it requires them) and secures its
    /// coordinator and admin calls. `token` is what it presents to a coordinator with auth
    /// on; then the tree browser is off (the HTTP port takes no tokens, so it would show
    /// everything to anyone), and instance actions go out without a token, so instances
    /// refuse them. `onListening` runs once it listens, with the port.
    public init(
        host: String, port: Int, coordinators: [String], timer: TimerServer?, metrics: ConsoleMetrics?,
        adminTimeout: Duration = .seconds(2), tls: RPCTLS? = nil, token: String? = nil, logger: Logger,
        onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) {
        self.onListening = onListening
        self.host = host
        self.port = port
        self.metrics = metrics
        self.logger = logger
        let coordinator = CoordinatorClient(configuration: .init(addresses: coordinators, tls: tls, token: token), logger: logger)
        state = ConsoleState(feed: RegistryFeed(coordinator: coordinator, logger: logger), coordinator: coordinator, timer: timer, adminTimeout: adminTimeout)
    }

    /// The port it listens on, once it does; `nil` if it stopped (or could not listen) first.
    public func listeningPort() async -> Int? {
        await withCheckedContinuation { continuation in
            let answer = bound.withLock { bound -> Int?? in
                if bound.port != nil || bound.ended { return .some(bound.port) }
                bound.waiters.append(continuation)
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    private func listening(on port: Int) async {
        await onListening(port)
        answerWaiters { $0.port = port }
    }

    /// Records `change` and answers whoever waits for the port.
    private func answerWaiters(_ change: (inout (port: Int?, ended: Bool, waiters: [CheckedContinuation<Int?, Never>])) -> Void) {
        let (port, waiters) = bound.withLock { bound in
            change(&bound)
            defer { bound.waiters = [] }
            return (bound.port, bound.waiters)
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    /// Serves until graceful shutdown; throws when the port cannot be bound.
    public func run() async throws {
        let router = Router()
        DashboardAssets.addRoutes(to: router)
        ConsoleAPI.addRoutes(to: router, console: state)
        if let metrics {
            router.get("/metrics") { _, _ in
                await metrics.refresh()
                var text: [UInt8] = []
                metrics.registry.emit(into: &text)
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: text)))
            }
        }
        state.timer?.addHTTPRoutes(to: router)
        let app = Application(
            router: router,
            server: ReloadableTLSChannel.server(state.coordinator.configuration.tls),
            configuration: .init(address: .hostname(host, port: port), serverName: "skynetd"),
            onServerRunning: { channel in await self.listening(on: channel.localAddress?.port ?? 0) },
            logger: logger)
        let feed = state.feed
        defer {
            answerWaiters { $0.ended = true }
            Task { [coordinator = state.coordinator] in await coordinator.close() }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await feed.run() }
            group.addTask { await feed.keepAlive() }
            group.addTask {
                try await withGracefulShutdownHandler {
                    do {
                        try await app.run()
                    } catch {
                        throw HTTPListenError("the HTTP port", address: "\(self.host):\(self.port)", cause: error)
                    }
                } onGracefulShutdown: {
                    feed.close()
                }
            }
            // The HTTP server ends first (graceful shutdown, or it could not listen); the
            // feed's loops are then cancelled.
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
