import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Skynet
import SkynetRPC

/// The timer service, `skynet.timer`: durable, sharded timers whose callbacks are delivered
/// at least once, over MessagePack-RPC and a Skyring-compatible HTTP API.
///
/// An ordinary Skynet service (it registers, shows in `sky topology`, is found through
/// `Query`). Run any number of instances: they split the timers' shards between them
/// through the service's hash ring, and when one dies its shards move to the others, which
/// fire what it left. Run it in a `ServiceGroup` (`skynetd` and `skynet-timer` do): it
/// serves until graceful shutdown, then lets go of its shards and stops.
public final class TimerServer: ServiceLifecycle.Service, Sendable {
    /// The name every instance registers under.
    public static let serviceName = "skynet.timer"

    /// Where the HTTP API listens: host and port (0 picks a free one); `nil` for none.
    public let httpAddress: (host: String, port: Int)?
    /// The Skynet service this timer instance is.
    public let service: Skynet.Service
    private let node: TimerNode
    private let logger: Logger
    private let onServing: @Sendable (_ rpcAddress: String, _ httpPort: Int?) async -> Void

    /// Creates a timer instance. `config.name` is replaced by `skynet.timer`. `onServing`
    /// runs once the instance is registered and its HTTP API (if any) listens, with the RPC
    /// address and the HTTP port.
    public init(
        config: ServiceConfig, httpAddress: (host: String, port: Int)?, logger: Logger = Logger(label: "skynet.timer"),
        onServing: @escaping @Sendable (_ rpcAddress: String, _ httpPort: Int?) async -> Void = { _, _ in }
    ) {
        var config = config
        config.name = Self.serviceName
        self.httpAddress = httpAddress
        self.logger = logger
        self.onServing = onServing
        var clientConfig = ClientConfig()
        clientConfig.coordinators = config.coordinators
        clientConfig.region = config.region
        clientConfig.host = config.host
        clientConfig.tls = config.tls
        node = TimerNode(client: Client(config: clientConfig, logger: logger), logger: logger)
        service = Skynet.Service(config: config, delegate: node)
        node.service.withLock { $0 = service }
    }

    /// Adds the HTTP API's routes to `router`, for a server that serves them beside its own
    /// (skynetd's HTTP port); create the instance with no `httpAddress` then.
    package func addHTTPRoutes(to router: Router<BasicRequestContext>) {
        TimerHTTPAPI.addRoutes(to: router, node: node)
    }

    /// What this instance has done since it started, and what it holds now.
    package func figures() -> TimerFiguresSnapshot {
        let (held, shards) = node.state.withLock { ($0.engine.count, $0.held.count) }
        return node.figures.snapshot(held: held, shards: shards)
    }

    /// Binds and registers (the coordinator must answer: it throws `Unavailable` otherwise),
    /// then serves until graceful shutdown (or cancellation).
    public func run() async throws {
        do {
            let info = try await service.bind()
            try await serve(info)
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    private func serve(_ info: ServiceInfo) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.service.run() }
            group.addTask { await self.node.reconcileLoop() }
            group.addTask { await self.node.watchOwners() }
            group.addTask { await self.node.fireLoop() }
            // Serving means taking timers: wait (up to 10 s) for the first shards to be held.
            await node.ready.wait(.seconds(10))
            let onServing = self.onServing
            if let httpAddress {
                let app = Application(
                    router: TimerHTTPAPI.router(node: node),
                    configuration: .init(address: .hostname(httpAddress.host, port: httpAddress.port), serverName: "skynet-timer"),
                    onServerRunning: { channel in await onServing(info.serviceAddress, channel.localAddress?.port ?? httpAddress.port) },
                    logger: logger)
                group.addTask {
                    do {
                        try await app.run()
                    } catch {
                        throw HTTPListenError("the timer HTTP API", address: "\(httpAddress.host):\(httpAddress.port)", cause: error)
                    }
                }
            } else {
                await onServing(info.serviceAddress, nil)
            }
            // The Skynet service ends on graceful shutdown (or an admin `stop`), or a part
            // fails (the HTTP port is taken) and the service is stopped; the rest follow.
            do {
                try await group.next()
            } catch {
                group.cancelAll()
                await service.stop()
                throw error
            }
            group.cancelAll()
        }
    }

    /// Lets go of the shards, then closes the callback client and the coordinator client,
    /// however serving ended.
    private func stop() async {
        await service.stop()
        await node.shutdown()
        await node.client.close()
    }
}

/// An HTTP server could not listen (or stopped serving): what it is, and where.
package struct HTTPListenError: Error, CustomStringConvertible {
    /// What could not listen, as the sentence names it: "the timer HTTP API", "the HTTP port".
    package var what: String
    package var address: String
    package var cause: any Error

    package init(_ what: String, address: String, cause: any Error) {
        self.what = what
        self.address = address
        self.cause = cause
    }

    package var description: String {
        let reason = (cause as? IOError).map { String(cString: strerror($0.errnoCode)).lowercased() } ?? "\(cause)"
        return "\(what) cannot listen on \(address): \(reason)"
    }
}
