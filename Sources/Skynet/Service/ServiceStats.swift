import Foundation
import Synchronization

/// An instance's figures, as the admin `stats` call answers them (`sky instances`,
/// `sky topology`, the dashboard ask each instance they show). Never written to the tree.
public struct ServiceStatsSnapshot: Codable, Hashable, Sendable {
    /// Calls answered since start.
    public var requests: Int
    /// Calls that failed since start.
    public var errors: Int
    /// Calls running now.
    public var inFlight: Int
    /// Calls answered per second, over the last load sample.
    public var callsPerSecond: Double
    /// Mean latency of the last calls, in milliseconds.
    public var meanLatencyMs: Double
    /// 99th percentile latency of the last calls, in milliseconds.
    public var p99LatencyMs: Double
    /// When the service started.
    public var started: Date
    /// Process CPU time so far, in seconds.
    public var cpuSeconds: Double
    /// The process's CPU use over the last load sample, as a share of the machine's cores (0…1).
    public var cpu: Double
    /// The figure its overload ceiling applies to (see `LoadReport.utilization`).
    public var utilization: Double
    /// Resident memory, in bytes.
    public var memoryBytes: Int
    /// The host's one-minute load average.
    public var load: Double
    /// Why it takes no new calls, when it does not.
    public var outOfRotation: OutOfRotation?
}

/// Counts calls and keeps the latencies of the last 1,024 of them, and their sum since the
/// last load report.
final class ServiceStats: Sendable {
    private struct State {
        var requests = 0
        var errors = 0
        var inFlight = 0
        var latencies = RecentSamples()
        var windowLatencyMs = 0.0
        var windowCalls = 0
    }

    /// The counters a snapshot or a load report is made from.
    struct Figures {
        var requests: Int
        var errors: Int
        var inFlight: Int
        var meanLatencyMs: Double
        var p99LatencyMs: Double
    }

    private let state = Mutex(State())
    let started = Date()
    /// The monotonic clock's reading at start, for load windows.
    let origin = ContinuousClock.now

    func begin() { state.withLock { $0.inFlight += 1 } }

    func end(seconds: Double, failed: Bool) {
        state.withLock { state in
            state.inFlight -= 1
            state.requests += 1
            if failed { state.errors += 1 }
            state.latencies.add(seconds * 1000)
            state.windowLatencyMs += seconds * 1000
            state.windowCalls += 1
        }
    }

    /// The mean latency of the calls answered since the last time this was asked, and starts
    /// a new window; 0 when none were. A load report carries this rather than the last 1,024
    /// calls' mean: an instance that stopped getting calls must not keep advertising what
    /// it measured before (pools read 0 as "unknown", not as "instant").
    func takeWindowMeanLatencyMs() -> Double {
        state.withLock { state in
            defer { (state.windowLatencyMs, state.windowCalls) = (0, 0) }
            return state.windowCalls == 0 ? 0 : state.windowLatencyMs / Double(state.windowCalls)
        }
    }

    func figures() -> Figures {
        let (requests, errors, inFlight, recent) = state.withLock { ($0.requests, $0.errors, $0.inFlight, Array($0.latencies.values)) }
        let latency = RecentSamples.summary(recent, percentiles: [0.99])
        return Figures(requests: requests, errors: errors, inFlight: inFlight, meanLatencyMs: latency.mean, p99LatencyMs: latency.percentiles[0])
    }

    /// The process's CPU seconds so far (user and system).
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    func snapshot(report: LoadReport, outOfRotation: OutOfRotation?) -> ServiceStatsSnapshot {
        let figures = self.figures()
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ")
        let pages = statm.flatMap { $0.count > 1 ? Int($0[1]) : nil } ?? 0
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) } ?? 0
        return ServiceStatsSnapshot(
            requests: figures.requests, errors: figures.errors, inFlight: figures.inFlight, callsPerSecond: report.callsPerSecond,
            meanLatencyMs: figures.meanLatencyMs, p99LatencyMs: figures.p99LatencyMs, started: started,
            cpuSeconds: Self.cpuSeconds(), cpu: report.cpu, utilization: report.utilization,
            memoryBytes: pages * Int(sysconf(Int32(_SC_PAGESIZE))), load: load, outOfRotation: outOfRotation)
    }
}
