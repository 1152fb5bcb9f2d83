import Logging
import Synchronization

/// The entry point for callers: a coordinator connection and service clients over it.
///
/// ```swift
/// let client = Client(config: .fromEnvironment(ProcessInfo.processInfo.environment))
/// let echo = client.service(name: "echo")
/// let reply = try await echo.send("echo", "I'm connected!!", returning: String.self)
/// ```
public final class Client: Sendable {
    /// The configuration in force.
    public let config: ClientConfig
    /// The coordinator client shared by every service client.
    public let coordinator: CoordinatorClient
    private let logger: Logger
    private let pools = Mutex<[ServiceClient]>([])

    /// Creates a client; it connects on first use.
    public init(config: ClientConfig = .init(), logger: Logger = Logger(label: "skynet.client")) {
        self.config = config
        self.logger = logger
        coordinator = CoordinatorClient(configuration: .init(addresses: config.coordinators), logger: logger)
    }

    /// A pool over the live instances matching the criteria (empty = any), kept current by
    /// a registry watch. Each call returns a new pool; keep and reuse it.
    public func service(name: String, version: String? = nil, region: String? = nil, host: String? = nil) -> ServiceClient {
        let pool = ServiceClient(query: Query(service: name, version: version, region: region, host: host), config: config, coordinator: coordinator, logger: logger)
        pools.withLock { $0.append(pool) }
        return pool
    }

    /// Closes every service client made from this client, then the coordinator connection.
    public func close() async {
        for pool in pools.withLock({ $0 }) { await pool.close() }
        await coordinator.close()
    }
}
