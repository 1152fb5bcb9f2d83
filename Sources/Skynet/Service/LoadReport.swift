/// An instance's live load, as it pushes it about once a second to the clients calling it
/// (the `skynet.load` notification on their connections) and answers in `stats`.
///
/// Soft state: it never goes into the coordinator's tree, so an idle fleet writes nothing.
public struct LoadReport: Codable, Hashable, Sendable {
    /// The figure the service's overload ceiling applies to, from `ServiceProtocol.load`
    /// (by default `cpu`); 1 means fully busy.
    public var utilization: Double
    /// The process's CPU use over the last second, as a share of the machine's cores (0…1).
    public var cpu: Double
    /// Calls running now.
    public var inFlight: Int
    /// Calls answered per second, over the last second.
    public var callsPerSecond: Double
    /// Mean latency of the calls answered since the previous report, in milliseconds; 0 when
    /// it answered none, which pools read as unknown rather than instant.
    public var meanLatencyMs: Double
    /// 99th percentile latency of the last calls, in milliseconds.
    public var p99LatencyMs: Double

    /// Creates a report.
    public init(utilization: Double, cpu: Double, inFlight: Int, callsPerSecond: Double, meanLatencyMs: Double, p99LatencyMs: Double) {
        self.utilization = utilization
        self.cpu = cpu
        self.inFlight = inFlight
        self.callsPerSecond = callsPerSecond
        self.meanLatencyMs = meanLatencyMs
        self.p99LatencyMs = p99LatencyMs
    }

    /// The notification that carries a report: `[2, "skynet.load", [report]]`.
    public static let notification = "skynet.load"
    /// The notification a client sends once on a connection to receive reports on it:
    /// `[2, "skynet.load.subscribe", []]`.
    public static let subscribe = "skynet.load.subscribe"
}
