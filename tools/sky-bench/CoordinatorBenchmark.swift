import ArgumentParser
import Foundation
import MessagePack
import Skynet
import Synchronization

/// `sky-bench coordinator`: etcd-style figures for `skynetd` (8-byte keys, 256-byte values),
/// against the raw fsync rate of the same disk measured in the same run.
struct CoordinatorBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Puts, gets, watch latency, fsyncs and memory of a skynetd it starts itself, vs the disk's raw fsync rate.",
        discussion: """
            Examples:
              sky-bench coordinator
              sky-bench coordinator --auth
            """)

    @Option(help: "Seconds each throughput phase runs.")
    var seconds = 5.0

    @Option(help: "Concurrent clients in the put and get phases.")
    var clients = 256

    @Option(help: "Connections those clients share.")
    var connections = 16

    @Option(help: "Distinct keys written and read in the put and get phases.")
    var keys = 100_000

    @Option(help: "Watches in the watch phase (all on one prefix).")
    var watches = 1_000

    @Option(help: "Connections the watches are spread over.")
    var watchConnections = 10

    @Option(help: "Puts per second under the watched prefix.")
    var watchRate = 100

    @Option(help: "Files loaded for the memory figure (0 skips it).")
    var files = 1_000_000

    @Option(help: ArgumentHelp("embedded: one skynetd --dev; etcd: a 3-member etcd with two skynetd fronts, against the same workload sent straight to etcd.", valueName: "embedded|etcd"))
    var store = "embedded"

    @Flag(help: "Measure what auth costs: puts and gets against a skynetd with auth on and one without, in alternating rounds.")
    var auth = false

    func validate() throws {
        if auth, store != "embedded" { throw ValidationError("--auth measures the embedded store") }
        guard ["embedded", "etcd"].contains(store) else { throw ValidationError("--store must be embedded or etcd, found \"\(store)\"") }
    }

    static let value = [UInt8]((0..<256).map { UInt8(truncatingIfNeeded: $0 &* 7) })

    static func key(_ i: Int) -> String {
        let digits = String(i)
        return "k" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    func run() async throws {
        if store == "etcd" { return try await ClusterBenchmark(options: self).run() }
        if auth { return try await AuthBenchmark(options: self).run() }
        let raw = try RawFsyncBaseline.measure(seconds: 2)
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let pool = (0..<connections).map { _ in CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: .seconds(30)), logger: .init(label: "bench")) }
        let probe = pool[0]

        // Serial puts: one client, one put at a time.
        var serial = LatencySamples(capacity: 2_000)
        let clock = ContinuousClock()
        for i in 0..<2_000 {
            let start = clock.now
            try await probe.set("/b/" + Self.key(i), Self.value)
            serial.record(clock.now - start)
        }

        // Concurrent puts.
        let fsyncsBefore = try await probe.status()["fsyncs"]?.int64Value ?? 0
        // The daemon's CPU, then this process's (the load generator): on two cores what the
        // generator takes the server cannot have.
        let processes = [daemon.child.process.processIdentifier, getpid()]
        var cpu = CPUMeter(processes)
        let (putRate, putLatency, putElapsed) = try await concurrent(pool) { client, n in
            try await client.set("/b/" + Self.key(n % keys), Self.value)
        }
        let putCPU = cpu.microseconds(per: putRate * putElapsed)
        let fsyncsAfter = try await probe.status()["fsyncs"]?.int64Value ?? 0

        // Linearizable gets; first make sure every key of the key space exists.
        for start in stride(from: 0, to: keys, by: 500) {
            let ops = (start..<min(keys, start + 500)).map { TreeOperation.set(path: try! TreePath("/b/" + Self.key($0)), value: Self.value, ifRev: -1, session: nil) }
            _ = try await probe.txn(compares: [], success: ops)
        }
        cpu = CPUMeter(processes)
        let (getRate, _, getElapsed) = try await concurrent(pool) { client, n in
            guard try await client.get("/b/" + Self.key(n % keys)) != nil else { throw BenchError("key \(n % keys) missing") }
        }
        let getCPU = cpu.microseconds(per: getRate * getElapsed)

        let watchLatency = try await watchPhase(daemon: daemon)
        for client in pool { await client.close() }
        daemon.stop()

        var rss = -1.0, loadRate = 0.0
        if files > 0 { (rss, loadRate) = try await memoryPhase() }

        let fsyncsPerSecond = Double(fsyncsAfter - fsyncsBefore) / putElapsed
        let report: [(String, Any)] = [
            ("scenario", "coordinator"),
            ("puts_per_s", Int(putRate)),
            ("put_p99_ms", rounded(putLatency.percentileMicroseconds(0.99) / 1000, 2)),
            ("put_p50_ms", rounded(putLatency.percentileMicroseconds(0.5) / 1000, 2)),
            ("put_serial_p50_ms", rounded(serial.percentileMicroseconds(0.5) / 1000, 2)),
            ("gets_per_s", Int(getRate)),
            ("server_cpu_us_per_put", putCPU[0]),
            ("client_cpu_us_per_put", putCPU[1]),
            ("server_cpu_us_per_get", getCPU[0]),
            ("client_cpu_us_per_get", getCPU[1]),
            ("watch_p99_ms", rounded(watchLatency.percentileMicroseconds(0.99) / 1000, 2)),
            ("watch_p50_ms", rounded(watchLatency.percentileMicroseconds(0.5) / 1000, 2)),
            ("fsyncs_per_s", Int(fsyncsPerSecond)),
            ("puts_per_fsync", rounded(putRate / max(1, fsyncsPerSecond), 1)),
            ("rss_mb_1m_keys", rounded(rss, 0)),
            ("load_files_per_s", Int(loadRate)),
            ("raw_fsyncs_per_s", Int(raw.perSecond)),
            ("raw_fsync_p50_ms", rounded(raw.p50Milliseconds, 2)),
            ("targets_met", putRate >= 20_000 && getRate >= 50_000 && watchLatency.percentileMicroseconds(0.99) <= 5_000 && (files == 0 || rss <= 600)),
            ("clients", clients),
            ("connections", connections),
            ("watches", watches),
            ("files", files),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]
        print(JSONReport.render(report))
    }

    /// Runs `clients` callers spread over `pool` for `seconds`; returns calls/s, latencies, elapsed seconds.
    func concurrent<Client: Sendable>(
        _ pool: [Client], _ call: @escaping @Sendable (Client, Int) async throws -> Void
    ) async throws -> (Double, LatencySamples, Double) {
        try await closedLoop(clients: clients, seconds: seconds, pool: pool, call)
    }

    /// `watches` watches on `/w/**` over `watchConnections` clients; puts at `watchRate`/s; the
    /// latency of each event from the put's acknowledgement to its arrival at each watch.
    private func watchPhase(daemon: DaemonProcess) async throws -> LatencySamples {
        try await watchPhase(addresses: [daemon.address])
    }

    /// The watch phase through the coordinators at `addresses`: the watch connections take
    /// them in turn, the writer the first.
    func watchPhase(addresses: [String]) async throws -> LatencySamples {
        let clock = ContinuousClock()
        let watchers = (0..<watchConnections).map { i in CoordinatorClient(configuration: .init(addresses: [addresses[i % addresses.count]]), logger: .init(label: "bench")) }
        let writer = CoordinatorClient(configuration: .init(addresses: [addresses[0]]), logger: .init(label: "bench"))
        let acks = AckTimes()
        let puts = max(1, Int(seconds * Double(watchRate)))
        let ready = try await writer.set("/w/ready", "1")
        let (live, liveContinuation) = AsyncStream.makeStream(of: Void.self)
        let arrivals = try await withThrowingTaskGroup(of: [(Int64, ContinuousClock.Instant)].self) { group in
            for w in 0..<watches {
                let stream = watchers[w % watchers.count].watch("/w/**", fromRev: ready)
                group.addTask {
                    var seen: [(Int64, ContinuousClock.Instant)] = []
                    seen.reserveCapacity(puts + 1)
                    var count = 0
                    for try await update in stream {
                        let now = clock.now
                        if update.events.contains(where: { $0.path.string == "/w/ready" }) { liveContinuation.yield() }
                        for event in update.events where event.path.string != "/w/ready" {
                            seen.append((event.rev, now))
                            count += 1
                        }
                        if count >= puts { break }
                    }
                    return seen
                }
            }
            // Wait until every watch is live (it saw the ready write), then put at the rate.
            var liveCount = 0
            for await _ in live {
                liveCount += 1
                if liveCount == watches { break }
            }
            let interval = Duration.seconds(1) / watchRate
            var next = clock.now
            for i in 0..<puts {
                try await clock.sleep(until: next)
                let rev = try await writer.set("/w/" + Self.key(i), Self.value)
                acks.record(rev, clock.now)
                next += interval
            }
            var all: [(Int64, ContinuousClock.Instant)] = []
            for try await seen in group { all += seen }
            return all
        }
        let samples = acks.latencies(of: arrivals)
        for watcher in watchers { await watcher.close() }
        await writer.close()
        return samples
    }

    /// Loads `files` files of 256 bytes into a fresh daemon; returns its RSS (MiB) and files/s.
    private func memoryPhase() async throws -> (Double, Double) {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let writers = (0..<8).map { _ in CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: .seconds(60)), logger: .init(label: "bench")) }
        let batch = 500
        let batches = (files + batch - 1) / batch
        let clock = ContinuousClock()
        let start = clock.now
        let files = self.files
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers.count {
                group.addTask {
                    for b in stride(from: w, to: batches, by: writers.count) {
                        let ops = (b * batch..<min(files, (b + 1) * batch)).map { i in
                            TreeOperation.set(path: try! TreePath("/m/" + Self.key(i)), value: Self.value, ifRev: -1, session: nil)
                        }
                        _ = try await writers[w].txn(compares: [], success: ops)
                    }
                }
            }
            try await group.waitForAll()
        }
        let rate = Double(files) / (clock.now - start).seconds
        guard try await writers[0].status()["files"]?.int64Value == Int64(files) else { throw BenchError("not every file was written") }
        let rss = daemon.residentMiB()
        for writer in writers { await writer.close() }
        return (rss, rate)
    }
}

/// When each watched put was acknowledged, by revision.
final class AckTimes: Sendable {
    private let state = Mutex<[Int64: ContinuousClock.Instant]>([:])
    func record(_ rev: Int64, _ time: ContinuousClock.Instant) { state.withLock { $0[rev] = time } }
    var times: [Int64: ContinuousClock.Instant] { state.withLock { $0 } }

    /// Each event's delay from its put's acknowledgement to its arrival at a watch (zero
    /// when it arrived first).
    func latencies(of arrivals: [(Int64, ContinuousClock.Instant)]) -> LatencySamples {
        var samples = LatencySamples(capacity: arrivals.count)
        let ackTimes = times
        for (rev, arrival) in arrivals {
            guard let ack = ackTimes[rev] else { continue }
            samples.record(arrival > ack ? arrival - ack : .zero)
        }
        return samples
    }
}
