import ArgumentParser
import AsyncHTTPClient
import Foundation
import Prometheus
import Skynet
import SkynetRPC
import Synchronization

/// `sky-bench service`: calls through `ServiceClient` against plain SkynetRPC connections to
/// the same three echo instances; the same pool load against three instances serving
/// `/metrics` through a pool recording Prometheus series (metrics on vs off); then a
/// failover run that SIGKILLs one under load.
struct ServiceBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "ServiceClient throughput and latency vs direct connections, the cost of metrics, and failover when an instance dies.",
        discussion: """
            Examples:
              sky-bench service
            """)

    @Option(help: "Seconds each throughput phase runs (per round).")
    var seconds = 3.0

    @Option(help: "Rounds; each runs the pool phase, the direct phase and the metered pool phase back to back.")
    var rounds = 3

    @Option(help: "Concurrent callers.")
    var callers = 64

    func run() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        var instances = try (0..<3).map { _ in try EchoProcess(coordinator: daemon.address) }
        defer { for instance in instances { instance.child.stop() } }
        let client = Client(config: ClientConfig(coordinators: [daemon.address], region: "bench", host: "bench"), logger: .init(label: "bench"))
        let echo = client.service(name: "echo")
        while echo.availableInstances.count < 3 { _ = try await echo.send("echo", "warm", returning: String.self) }
        var direct: [RPCConnection] = []
        for instance in instances { direct.append(try await RPCConnection.connect(host: "127.0.0.1", port: instance.port)) }
        // Metrics on: instances serving /metrics (swift-metrics bootstrapped with Prometheus in
        // them), called through a pool whose series go to a Prometheus registry here.
        let metered = try (0..<3).map { _ in try EchoProcess(coordinator: daemon.address, extra: ["-name", "echo-metered", "-metrics", "127.0.0.1:0"]) }
        defer { for instance in metered { instance.child.stop() } }
        let registry = PrometheusCollectorRegistry()
        let meteredClient = Client(
            config: ClientConfig(coordinators: [daemon.address], region: "bench", host: "bench", metricsFactory: PrometheusMetricsFactory(registry: registry)),
            logger: .init(label: "bench"))
        let meteredEcho = meteredClient.service(name: "echo-metered")
        while meteredEcho.availableInstances.count < 3 { _ = try await meteredEcho.send("echo", "warm", returning: String.self) }
        let scrapeTargets = try await Query(service: "echo-metered").findInstances(meteredClient.coordinator).compactMap { $0.metadata["metrics"] }
        guard scrapeTargets.count == 3 else { throw BenchError("the metered instances do not advertise /metrics: \(scrapeTargets)") }
        var meteredRates: [Double] = []
        var scrapedBytes = 0
        // The tree's revision around the rounds: instances under load write nothing but transitions.
        let (revisionBefore, _) = try await client.coordinator.walkAtRevision("/skynet/**")
        let roundsStarted = ContinuousClock.now

        var poolRates: [Double] = [], directRates: [Double] = []
        var poolLatency = LatencySamples(capacity: 1 << 20)
        for _ in 0..<rounds {
            let (rate, latency) = try await load { n in
                _ = try await echo.send("echo", "0123456789abcdef", returning: String.self)
            }
            poolRates.append(rate)
            poolLatency.append(latency)
            let connections = direct
            let (directRate, _) = try await load { n in
                _ = try await connections[n % connections.count].call("echo", "0123456789abcdef", returning: String.self)
            }
            directRates.append(directRate)
            let (meteredRate, _) = try await load { n in
                _ = try await meteredEcho.send("echo", "0123456789abcdef", returning: String.self)
            }
            meteredRates.append(meteredRate)
            // A scrape per instance and round, as Prometheus would make them, and the pool's series.
            scrapedBytes = registry.emitToString().utf8.count
            for target in scrapeTargets {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://\(target)/metrics"), timeout: .seconds(10))
                guard response.status == .ok else { throw BenchError("GET http://\(target)/metrics answered \(response.status)") }
                scrapedBytes += try await response.body.collect(upTo: 1 << 24).readableBytes
            }
        }
        let (revisionAfter, _) = try await client.coordinator.walkAtRevision("/skynet/**")
        let instanceMinutes = Double(instances.count + metered.count) * (ContinuousClock.now - roundsStarted).seconds / 60
        let writesPerInstanceMinute = Double(revisionAfter - revisionBefore) / instanceMinutes
        for connection in direct { await connection.close() }
        await meteredClient.close()

        // Failover: the same load, idempotent calls, one instance SIGKILLed a second in.
        let victim = instances[1]
        let victimPID = victim.child.process.processIdentifier
        let tally = FailoverTally()
        _ = try await load(seconds: 3) { _ in
            do {
                _ = try await echo.send("echo", "failover", returning: String.self, idempotent: true)
            } catch {
                tally.failed()
            }
        } during: {
            try await Task.sleep(for: .seconds(1))
            tally.killed()
            kill(victimPID, SIGKILL)
        }
        victim.child.process.waitUntilExit()
        instances.remove(at: 1)
        let killTime = tally.killedAt!
        let lastCall = echo.routing()[victim.address]?.lastCall ?? killTime
        let ejectMs = lastCall > killTime ? (lastCall - killTime).seconds * 1000 : 0

        // Join: a new instance starts under load; how long from its launch to its first call.
        let joined = JoinTally()
        let coordinatorAddress = daemon.address
        _ = try await load(seconds: 2) { _ in
            _ = try await echo.send("echo", "join", returning: String.self, idempotent: true)
        } during: {
            try await Task.sleep(for: .milliseconds(300))
            // Measured from the launch of its process (start-up included): registration happens
            // inside it, before it prints that it serves.
            let launched = ContinuousClock.now
            let fresh = try EchoProcess(coordinator: coordinatorAddress)
            joined.started(fresh, at: launched)
        }
        let newcomer = try joined.instance()
        instances.append(newcomer)
        let joinMs = echo.routing()[newcomer.address]?.firstCall.map { ($0 - joined.registeredAt!).seconds * 1000 } ?? -1
        await client.close()

        let poolRate = poolRates.reduce(0, +) / Double(rounds), directRate = directRates.reduce(0, +) / Double(rounds)
        let meteredRate = meteredRates.reduce(0, +) / Double(rounds)
        let metricsCost = 1 - meteredRate / poolRate
        let failed = tally.failures
        let report: [(String, Any)] = [
            ("scenario", "service"),
            ("calls_per_s", Int(poolRate)),
            ("call_p99_ms", rounded(poolLatency.percentileMicroseconds(0.99) / 1000, 2)),
            ("call_p50_ms", rounded(poolLatency.percentileMicroseconds(0.5) / 1000, 2)),
            ("direct_calls_per_s", Int(directRate)),
            ("ratio", rounded(poolRate / directRate, 2)),
            ("metrics_on_calls_per_s", Int(meteredRate)),
            ("metrics_off_calls_per_s", Int(poolRate)),
            ("metrics_cost", rounded(metricsCost, 3)),
            ("metrics_scraped_bytes", scrapedBytes),
            ("tree_writes_per_instance_minute", rounded(writesPerInstanceMinute, 2)),
            ("failed_calls", failed),
            ("eject_ms", rounded(ejectMs, 1)),
            ("join_ms", rounded(joinMs, 1)),
            ("targets_met", poolRate >= 0.85 * directRate && failed == 0 && ejectMs <= 100 && joinMs >= 0 && joinMs <= 1000 && metricsCost <= 0.05 && writesPerInstanceMinute <= 1),
            ("callers", callers),
            ("instances", 3),
            ("rounds", rounds),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]
        print(JSONReport.render(report))
    }

    /// Runs `callers` loops of `call` for `seconds` (while `during` runs alongside); returns calls/s and latencies.
    private func load(
        seconds: Double? = nil, _ call: @escaping @Sendable (Int) async throws -> Void,
        during: (@Sendable () async throws -> Void)? = nil
    ) async throws -> (Double, LatencySamples) {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int((seconds ?? self.seconds) * 1000))
        let callers = self.callers
        let samples = try await withThrowingTaskGroup(of: LatencySamples.self) { group in
            for c in 0..<callers {
                group.addTask {
                    var samples = LatencySamples(capacity: 8192)
                    var n = c
                    while clock.now < end {
                        let t = clock.now
                        try await call(n)
                        samples.record(clock.now - t)
                        n += callers
                    }
                    return samples
                }
            }
            if let during {
                group.addTask {
                    try await during()
                    return LatencySamples(capacity: 0)
                }
            }
            var all = LatencySamples(capacity: 1 << 20)
            for try await samples in group { all.append(samples) }
            return all
        }
        return (Double(samples.count) / (clock.now - start).seconds, samples)
    }
}

/// What the failover phase saw: failed calls and when the instance was killed.
final class FailoverTally: Sendable {
    private let state = Mutex<(failures: Int, killedAt: ContinuousClock.Instant?)>((0, nil))
    func failed() { state.withLock { $0.failures += 1 } }
    func killed() { state.withLock { $0.killedAt = .now } }
    var failures: Int { state.withLock { $0.failures } }
    var killedAt: ContinuousClock.Instant? { state.withLock { $0.killedAt } }
}

/// The instance started during the join phase and when it reported itself registered.
final class JoinTally: @unchecked Sendable {
    // @unchecked: written once by the phase's side task, read after the phase's task group
    // has finished (which orders the write before the reads).
    private var fresh: EchoProcess?
    private(set) var registeredAt: ContinuousClock.Instant?

    func started(_ instance: sending EchoProcess, at time: ContinuousClock.Instant) {
        fresh = instance
        registeredAt = time
    }

    func instance() throws -> EchoProcess {
        guard let fresh else { throw BenchError("the joining instance did not start") }
        return fresh
    }
}
