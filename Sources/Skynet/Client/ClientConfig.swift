import Metrics
import SkynetRPC

/// Where a `Client` finds the coordinator, where the caller is, and how patient calls are.
public struct ClientConfig: Sendable {
    /// Coordinator addresses, `host:port`.
    public var coordinators: [String]
    /// The caller's region: instances there are preferred.
    public var region: String
    /// The caller's host: instances there are preferred most.
    public var host: String
    /// How long a call may take over all its attempts, unless it says otherwise.
    public var timeout: Duration
    /// Ejection and reconnection settings of every pool.
    public var pool: InstancePool.Configuration
    /// Where the pools' series go (`skynet_pool_*`); nil: the backend the program
    /// bootstrapped swift-metrics with (none: they cost next to nothing).
    public var metricsFactory: (any MetricsFactory)?
    /// How long each of the client's own coordinator calls (finding and following
    /// instances) may take before it fails `Unavailable`.
    public var coordinatorTimeout: Duration = .seconds(5)
    /// TLS for calls to instances and the coordinator; nil: plain TCP.
    public var tls: RPCTLS?
    /// The token presented to a coordinator with auth on; nil: anonymous.
    public var token: String?

    /// Creates a configuration.
    public init(
        coordinators: [String] = ["127.0.0.1:8046"], region: String = "local", host: String = "127.0.0.1",
        timeout: Duration = .seconds(5), pool: InstancePool.Configuration = .init(), metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.metricsFactory = metricsFactory
        self.coordinators = coordinators
        self.region = region
        self.host = host
        self.timeout = timeout
        self.pool = pool
    }

    /// The defaults with `SKYNET_COORDINATORS`, `SKYNET_REGION`, `SKYNET_HOST` and
    /// `SKYNET_TOKEN` applied.
    public static func fromEnvironment(_ environment: [String: String]) -> ClientConfig {
        var config = ClientConfig()
        if let list = environment["SKYNET_COORDINATORS"], !list.isEmpty { config.coordinators = list.split(separator: ",").map(String.init) }
        if let region = environment["SKYNET_REGION"], !region.isEmpty { config.region = region }
        if let host = environment["SKYNET_HOST"], !host.isEmpty { config.host = host }
        if let token = environment["SKYNET_TOKEN"], !token.isEmpty { config.token = token }
        return config
    }
}
