import Foundation
import Synchronization

/// The load figures a service publishes beside its registration every few seconds.
public struct ServiceStatsSnapshot: Codable, Hashable, Sendable {
    /// Calls answered since start.
    public var requests: Int
    /// Calls that failed since start.
    public var errors: Int
    /// Calls running now.
    public var inFlight: Int
    /// Mean latency of the last calls, in milliseconds.
    public var meanLatencyMs: Double
    /// 99th percentile latency of the last calls, in milliseconds.
    public var p99LatencyMs: Double
    /// When the service started.
    public var started: Date
    /// Process CPU time so far, in seconds.
    public var cpuSeconds: Double
    /// Resident memory, in bytes.
    public var memoryBytes: Int
    /// The host's one-minute load average.
    public var load: Double
}

/// Counts calls and keeps the latencies of the last 1,024 of them.
final class ServiceStats: Sendable {
    private struct State {
        var requests = 0
        var errors = 0
        var inFlight = 0
        var latencies = RecentSamples()
    }

    private let state = Mutex(State())
    let started = Date()

    func begin() { state.withLock { $0.inFlight += 1 } }

    func end(seconds: Double, failed: Bool) {
        state.withLock { state in
            state.inFlight -= 1
            state.requests += 1
            if failed { state.errors += 1 }
            state.latencies.add(seconds * 1000)
        }
    }

    func snapshot() -> ServiceStatsSnapshot {
        let (requests, errors, inFlight, recent) = state.withLock { ($0.requests, $0.errors, $0.inFlight, Array($0.latencies.values)) }
        let latency = RecentSamples.summary(recent, percentiles: [0.99])
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ")
        let pages = statm.flatMap { $0.count > 1 ? Int($0[1]) : nil } ?? 0
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) } ?? 0
        return ServiceStatsSnapshot(
            requests: requests, errors: errors, inFlight: inFlight,
            meanLatencyMs: latency.mean, p99LatencyMs: latency.percentiles[0],
            started: started, cpuSeconds: cpu, memoryBytes: pages * Int(sysconf(Int32(_SC_PAGESIZE))), load: load)
    }
}
