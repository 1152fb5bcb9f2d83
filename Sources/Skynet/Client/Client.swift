import Logging
import ServiceLifecycle
import Synchronization

/// The entry point for callers: a coordinator connection and service clients over it.
///
/// ```swift
/// let client = Client(config: .commandLine())
/// let echo = client.service(name: "echo")
/// let reply = try await echo.send("echo", "I'm connected!!", returning: String.self)
/// await client.close()
/// ```
///
/// Its lifetime is yours to bound: call `close()`, use `Client.withClient(config:_:)`, or
/// run it as a swift-service-lifecycle `Service` in your `ServiceGroup` (it closes on
/// graceful shutdown).
public final class Client: ServiceLifecycle.Service, Sendable {
    /// The configuration in force.
    public let config: ClientConfig
    /// The coordinator client shared by every service client.
    public let coordinator: CoordinatorClient
    private let logger: Logger
    private let pools = Mutex<[Query: ServiceClient]>([:])

    /// Creates a client; it connects on first use.
    public init(config: ClientConfig = .init(), logger: Logger = Logger(label: "skynet.client")) {
        self.config = config
        self.logger = logger
        coordinator = CoordinatorClient(configuration: .init(addresses: config.coordinators, callTimeout: config.coordinatorTimeout, tls: config.tls, token: config.token), logger: logger)
    }

    /// Runs `body` with a new client and closes it afterwards, however `body` ends.
    public static func withClient<T>(
        config: ClientConfig = .init(), logger: Logger = Logger(label: "skynet.client"), _ body: (Client) async throws -> T
    ) async rethrows -> T {
        let client = Client(config: config, logger: logger)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// The pool over the live instances matching the criteria (empty = any), kept current
    /// by a registry watch. The same criteria give the same pool (one watch, one set of
    /// connections) until it or the client is closed.
    public func service(name: String, version: String? = nil, region: String? = nil, host: String? = nil) -> ServiceClient {
        let query = Query(service: name, version: version, region: region, host: host)
        return pools.withLock { pools in
            if let pool = pools[query], !pool.isClosed { return pool }
            let pool = ServiceClient(query: query, config: config, coordinator: coordinator, logger: logger)
            pools[query] = pool
            return pool
        }
    }

    /// Closes every service client made from this client, then the coordinator connection.
    public func close() async {
        for pool in pools.withLock({ Array($0.values) }) { await pool.close() }
        await coordinator.close()
    }

    /// Serves until graceful shutdown (or cancellation), then closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
