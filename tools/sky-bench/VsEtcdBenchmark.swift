import ArgumentParser
import EtcdAPI
import Foundation
import Logging
import Skynet
import SkynetEtcd
import SkynetTestSupport

/// `sky-bench vs-etcd`: `skynetd --dev`'s embedded store side by side with etcd, driven by
/// one load generator with the same workload, in alternating rounds of one run.
struct VsEtcdBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vs-etcd",
        abstract: "Durable puts and linearizable gets: skynetd (embedded store) against etcd, side by side in one run.",
        discussion: """
            Starts etcd (Debian's etcd-server; fresh data directory, 127.0.0.1, fsync on) and a \
            skynetd with a fresh data directory, warms both up, fills the key space on both, then \
            alternates rounds: puts on each, then gets on each, the side going first taking turns. \
            etcd is driven through the project's gRPC client, skynetd through CoordinatorClient, \
            from this one process. Server CPU per operation comes from each server's /proc CPU time.

            Examples:
              sky-bench vs-etcd
              sky-bench vs-etcd --etcd-nodes 3
            """)

    @Option(help: "Seconds of each measured phase (one phase per side, operation and round).")
    var seconds = 3.0

    @Option(help: "Alternating rounds.")
    var rounds = 3

    @Option(help: "Seconds of puts on each side before measuring.")
    var warmup = 1.0

    @Option(help: "Concurrent clients.")
    var clients = 256

    @Option(help: "Connections those clients share (per side).")
    var connections = 16

    @Option(help: "Distinct keys written and read.")
    var keys = 100_000

    @Option(help: "etcd members: 1 (the comparison) or 3 (for the record).")
    var etcdNodes = 1

    func validate() throws {
        guard etcdNodes == 1 || etcdNodes == 3 else { throw ValidationError("--etcd-nodes must be 1 or 3, found \(etcdNodes)") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, found \(rounds)") }
        guard seconds > 0, warmup >= 0 else { throw ValidationError("--seconds must be positive and --warmup not negative") }
        guard clients >= 1, connections >= 1, keys >= 1 else { throw ValidationError("--clients, --connections and --keys must be at least 1") }
    }

    /// One side of the comparison: how it puts and gets key `n`, and the processes that serve it.
    struct Side {
        let name: String
        let put: @Sendable (Int, Int) async throws -> Void
        let get: @Sendable (Int, Int) async throws -> Void
        let processIDs: () -> [Int32]
    }

    /// What one side did in one kind of operation, over every round.
    struct Tally {
        var operations = 0
        var seconds = 0.0
        var cpuSeconds = 0.0
        var latency = LatencySamples(capacity: 1 << 20)

        var perSecond: Double { Double(operations) / max(seconds, 1e-9) }
        var cpuMicrosecondsPerOperation: Double { cpuSeconds / Double(max(operations, 1)) * 1e6 }
        func milliseconds(_ q: Double) -> Double { rounded(latency.percentileMicroseconds(q) / 1000, 2) }
    }

    func run() async throws {
        guard EtcdCluster.binary != nil else { throw BenchError("etcd is not installed (Debian: etcd-server; scripts/deps.sh installs it)") }
        let logger = Logger(label: "bench")
        let etcd = try await EtcdCluster.start(size: etcdNodes, elections: .standard)
        defer { etcd.stop() }
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let endpoints = EtcdEndpoint.list(etcd.clientAddresses)!
        let direct = try (0..<connections).map { _ in try EtcdClient(endpoints: endpoints, callTimeout: .seconds(30), logger: logger) }
        let pool = (0..<connections).map { _ in CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: .seconds(30)), logger: logger) }
        let etcdVersion = try await stage("waiting for etcd") {
            try await eventually {
                _ = try await direct[0].kv.put(.with { $0.key = Data("/ready".utf8) }, options: direct[0].options)
                return try await direct[0].maintenance.status(Etcdserverpb_StatusRequest(), options: direct[0].options).version
            }
        }

        let keys = self.keys
        let value = CoordinatorBenchmark.value
        let etcdValue = Data(value)
        let skynet = Side(
            name: "skynetd",
            put: { c, n in _ = try await pool[c % pool.count].set("/b/" + CoordinatorBenchmark.key(n % keys), value) },
            get: { c, n in
                guard try await pool[c % pool.count].get("/b/" + CoordinatorBenchmark.key(n % keys)) != nil else { throw BenchError("skynetd: key \(n % keys) missing") }
            },
            processIDs: { [daemon.child.process.processIdentifier] })
        let etcdSide = Side(
            name: "etcd",
            put: { c, n in
                let client = direct[c % direct.count]
                _ = try await client.kv.put(.with {
                    $0.key = Data(("/b/" + CoordinatorBenchmark.key(n % keys)).utf8)
                    $0.value = etcdValue
                }, options: client.options)
            },
            get: { c, n in
                let client = direct[c % direct.count]
                let found = try await client.kv.range(.with { $0.key = Data(("/b/" + CoordinatorBenchmark.key(n % keys)).utf8) }, options: client.options)
                guard !found.kvs.isEmpty else { throw BenchError("etcd: key \(n % keys) missing") }
            },
            processIDs: { etcd.processIDs })
        let sides = [skynet, etcdSide]

        if warmup > 0 {
            for side in sides { _ = try await stage("warming up \(side.name)") { try await measure(side.put, on: side) } }
        }
        try await stage("filling the keys") { try await fill(pool[0], direct[0]) }

        var puts = [Tally(), Tally()], gets = [Tally(), Tally()]
        for round in 0..<rounds {
            // The side that goes first takes turns: neither always meets the other's leftovers.
            let order = round % 2 == 0 ? [0, 1] : [1, 0]
            for s in order {
                let phase = try await stage("round \(round + 1): \(sides[s].name) puts") { try await measure(sides[s].put, on: sides[s]) }
                record(&puts[s], phase)
            }
            for s in order {
                let phase = try await stage("round \(round + 1): \(sides[s].name) gets") { try await measure(sides[s].get, on: sides[s]) }
                record(&gets[s], phase)
            }
        }

        for client in pool { await client.close() }
        for client in direct { await client.close() }

        let putRatio = puts[0].perSecond / puts[1].perSecond
        let getRatio = gets[0].perSecond / gets[1].perSecond
        let putP99Ratio = puts[0].latency.percentileMicroseconds(0.99) / max(1, puts[1].latency.percentileMicroseconds(0.99))
        let putCPUvsGet = puts[0].cpuMicrosecondsPerOperation / gets[0].cpuMicrosecondsPerOperation
        var report: [(String, Any)] = [("scenario", "vs-etcd")]
        for (s, prefix) in ["skynetd", "etcd"].enumerated() {
            report += [
                ("\(prefix)_puts_per_s", Int(puts[s].perSecond)),
                ("\(prefix)_put_p50_ms", puts[s].milliseconds(0.5)),
                ("\(prefix)_put_p99_ms", puts[s].milliseconds(0.99)),
                ("\(prefix)_gets_per_s", Int(gets[s].perSecond)),
                ("\(prefix)_get_p99_ms", gets[s].milliseconds(0.99)),
                ("\(prefix)_cpu_us_per_put", rounded(puts[s].cpuMicrosecondsPerOperation, 1)),
                ("\(prefix)_cpu_us_per_get", rounded(gets[s].cpuMicrosecondsPerOperation, 1)),
            ]
        }
        report += [
            ("put_ratio", rounded(putRatio, 2)),
            ("put_p99_ratio", rounded(putP99Ratio, 2)),
            ("get_ratio", rounded(getRatio, 2)),
            ("skynetd_put_cpu_vs_get", rounded(putCPUvsGet, 2)),
            ("targets_met", etcdNodes == 1 && putRatio >= 3 && putP99Ratio <= 1 && getRatio >= 10 && putCPUvsGet <= 2),
            ("etcd_nodes", etcdNodes),
            ("etcd_version", etcdVersion),
            ("rounds", rounds),
            ("seconds_per_phase", seconds),
            ("clients", clients),
            ("connections", connections),
            ("keys", keys),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]
        print(JSONReport.render(report))
    }

    /// One phase: `operation` under the closed-loop load, with the CPU time its servers spent.
    private func measure(_ operation: @escaping @Sendable (Int, Int) async throws -> Void, on side: Side) async throws -> (LatencySamples, Double, Double) {
        let before = side.processIDs().map { ChildProcess.cpuSeconds(pid: $0) }.reduce(0, +)
        let pool = Array(0..<connections)
        let (_, latency, elapsed) = try await closedLoop(clients: clients, seconds: seconds, pool: pool) { c, n in try await operation(c, n) }
        let after = side.processIDs().map { ChildProcess.cpuSeconds(pid: $0) }.reduce(0, +)
        return (latency, elapsed, after - before)
    }

    private func record(_ tally: inout Tally, _ phase: (LatencySamples, Double, Double)) {
        tally.operations += phase.0.count
        tally.latency.append(phase.0)
        tally.seconds += phase.1
        tally.cpuSeconds += phase.2
    }

    /// Every key, on both sides, before the first round (batches within etcd's 128 operations).
    private func fill(_ skynet: CoordinatorClient, _ etcd: EtcdClient) async throws {
        let value = CoordinatorBenchmark.value
        for start in stride(from: 0, to: keys, by: 100) {
            let range = start..<min(keys, start + 100)
            _ = try await skynet.txn(compares: [], success: range.map { TreeOperation.set(path: try! TreePath("/b/" + CoordinatorBenchmark.key($0)), value: value, ifRev: -1, session: nil) })
            _ = try await etcd.kv.txn(.with { txn in
                txn.success = range.map { i in .with { $0.requestPut = .with { $0.key = Data(("/b/" + CoordinatorBenchmark.key(i)).utf8); $0.value = Data(value) } } }
            }, options: etcd.options)
        }
    }

    /// Runs one stage; its failure names it.
    private func stage<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw BenchError("\(name): \(error)") }
    }
}
