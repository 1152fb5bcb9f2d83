/// Turns two cumulative counters (process CPU seconds, calls answered) read at ticks of a
/// monotonic clock into rates over the last tick, as a pure core.
package struct LoadWindow: Sendable {
    private var last: (cpuSeconds: Double, requests: Int, at: Duration)?
    /// Cores the CPU share is measured against.
    package let cores: Int

    package init(cores: Int) {
        self.cores = max(1, cores)
    }

    /// The CPU share of the machine (0…1) and calls per second since the previous sample;
    /// zeros on the first sample or when no time passed.
    package mutating func sample(cpuSeconds: Double, requests: Int, at now: Duration) -> (cpu: Double, callsPerSecond: Double) {
        defer { last = (cpuSeconds, requests, now) }
        guard let last, now > last.at else { return (0, 0) }
        let wall = (now - last.at).seconds
        let cpu = max(0, cpuSeconds - last.cpuSeconds) / (wall * Double(cores))
        return (min(1, cpu), Double(max(0, requests - last.requests)) / wall)
    }
}
