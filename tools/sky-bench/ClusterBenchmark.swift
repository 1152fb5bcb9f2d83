import EtcdAPI
import Foundation
import GRPCCore
import Logging
import Skynet
import SkynetEtcd
import SkynetTestSupport

/// `sky-bench coordinator --store etcd`: the coordinator as a cluster. Starts a 3-member
/// etcd on 127.0.0.1 and two `skynetd` fronts over it, and drives the same workload
/// (puts, linearizable gets, a watch phase) through the fronts and straight to etcd with
/// the project's etcd gRPC client, in alternating phases of one run.
struct ClusterBenchmark {
    let options: CoordinatorBenchmark
    /// Rounds of the watch phase on each side.
    static let watchRounds = 3

    func run() async throws {
        // etcd's own election timing: the fast one of the fault tests would elect anew under
        // this much load on two cores.
        let etcd = try EtcdCluster(elections: .standard)
        defer { etcd.stop() }
        let endpoints = EtcdEndpoint.list(etcd.clientAddresses)!
        let logger = Logger(label: "bench")
        let direct = try (0..<options.connections).map { _ in try EtcdClient(endpoints: endpoints, callTimeout: .seconds(30), logger: logger) }
        _ = try await phase("waiting for etcd") {
            try await eventually { try await direct[0].kv.put(.with { $0.key = Data("/ready".utf8) }, options: direct[0].options) }
        }
        let fronts = try [DaemonProcess(extra: ["--store", "etcd://" + etcd.clientAddresses]), DaemonProcess(extra: ["--store", "etcd://" + etcd.clientAddresses])]
        defer { for front in fronts { front.stop() } }
        let addresses = fronts.map(\.address)
        // Half the connections go to each front.
        let pool = (0..<options.connections).map { i in
            CoordinatorClient(configuration: .init(addresses: [addresses[i % 2]], callTimeout: .seconds(30)), logger: logger)
        }
        let keys = options.keys
        let value = CoordinatorBenchmark.value

        // Puts, through the fronts, then straight to etcd.
        let (frontPuts, frontPutLatency, _) = try await phase("puts through the fronts") {
            try await options.concurrent(pool) { client, n in
                try await client.set("/b/" + CoordinatorBenchmark.key(n % keys), value)
            }
        }
        let (directPuts, directPutLatency, _) = try await phase("puts straight to etcd") {
            try await options.concurrent(direct) { client, n in
                _ = try await client.kv.put(.with {
                    $0.key = Data(("/b/" + CoordinatorBenchmark.key(n % keys)).utf8)
                    $0.value = Data(value)
                }, options: client.options)
            }
        }

        // Every key exists on both sides before the gets.
        try await phase("filling the keys") { try await fill(pool, direct) }
        let (frontGets, _, _) = try await phase("gets through the fronts") {
            try await options.concurrent(pool) { client, n in
                guard try await client.get("/b/" + CoordinatorBenchmark.key(n % keys)) != nil else { throw BenchError("key \(n % keys) missing") }
            }
        }
        let (directGets, _, _) = try await phase("gets straight to etcd") {
            try await options.concurrent(direct) { client, n in
                let found = try await client.kv.range(.with { $0.key = Data(("/b/" + CoordinatorBenchmark.key(n % keys)).utf8) }, options: client.options)
                guard !found.kvs.isEmpty else { throw BenchError("key \(n % keys) missing") }
            }
        }
        // The watch p99s are close and the machine's speed drifts: rounds alternate who goes
        // first, and each side's samples are pooled.
        var frontWatch = LatencySamples(capacity: 0), directWatch = LatencySamples(capacity: 0)
        for round in 0..<Self.watchRounds {
            for side in round % 2 == 0 ? [0, 1] : [1, 0] {
                if side == 0 {
                    frontWatch.append(try await phase("watches through the fronts, round \(round + 1)") { try await options.watchPhase(addresses: addresses) })
                } else {
                    directWatch.append(try await phase("watches straight to etcd, round \(round + 1)") { try await directWatchPhase(direct) })
                }
            }
        }
        for client in pool { await client.close() }
        for client in direct { await client.close() }

        let putRatio = frontPuts / directPuts, getRatio = frontGets / directGets
        let frontWatchP99 = frontWatch.percentileMicroseconds(0.99) / 1000, directWatchP99 = directWatch.percentileMicroseconds(0.99) / 1000
        let report: [(String, Any)] = [
            ("scenario", "coordinator-etcd"),
            ("front_puts_per_s", Int(frontPuts)),
            ("front_put_p99_ms", rounded(frontPutLatency.percentileMicroseconds(0.99) / 1000, 2)),
            ("front_gets_per_s", Int(frontGets)),
            ("front_watch_p99_ms", rounded(frontWatchP99, 2)),
            ("front_watch_p50_ms", rounded(frontWatch.percentileMicroseconds(0.5) / 1000, 2)),
            ("etcd_puts_per_s", Int(directPuts)),
            ("etcd_put_p99_ms", rounded(directPutLatency.percentileMicroseconds(0.99) / 1000, 2)),
            ("etcd_gets_per_s", Int(directGets)),
            ("etcd_watch_p99_ms", rounded(directWatchP99, 2)),
            ("etcd_watch_p50_ms", rounded(directWatch.percentileMicroseconds(0.5) / 1000, 2)),
            ("put_ratio", rounded(putRatio, 2)),
            ("get_ratio", rounded(getRatio, 2)),
            ("targets_met", putRatio >= 0.8 && getRatio >= 0.8 && frontWatchP99 <= directWatchP99),
            ("etcd_members", etcd.members.count),
            ("fronts", fronts.count),
            ("watch_rounds", Self.watchRounds),
            ("clients", options.clients),
            ("connections", options.connections),
            ("watches", options.watches),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]
        print(JSONReport.render(report))
    }

    /// Runs one phase; its failure names it.
    private func phase<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
        FileHandle.standardError.write(Data("sky-bench: \(name)\n".utf8))
        do { return try await body() } catch { throw BenchError("\(name): \(error)") }
    }

    /// Every key of the key space, on both sides, before the gets.
    private func fill(_ pool: [CoordinatorClient], _ direct: [EtcdClient]) async throws {
        let value = CoordinatorBenchmark.value
        for start in stride(from: 0, to: options.keys, by: 100) {
            let range = start..<min(options.keys, start + 100)
            _ = try await pool[0].txn(compares: [], success: range.map { TreeOperation.set(path: try! TreePath("/b/" + CoordinatorBenchmark.key($0)), value: value, ifRev: -1, session: nil) })
            _ = try await direct[0].kv.txn(.with { txn in
                txn.success = range.map { i in .with { $0.requestPut = .with { $0.key = Data(("/b/" + CoordinatorBenchmark.key(i)).utf8); $0.value = Data(value) } } }
            }, options: direct[0].options)
        }
    }

    /// The watch phase straight to etcd: `watches` etcd watches on the `/w/` prefix, each its
    /// own gRPC stream over `watchConnections` clients; puts at `watchRate`/s; the latency of
    /// each event from the put's acknowledgement to its arrival at each watch.
    private func directWatchPhase(_ direct: [EtcdClient]) async throws -> LatencySamples {
        let clock = ContinuousClock()
        let watchers = Array(direct.prefix(options.watchConnections))
        let writer = direct[0]
        let puts = max(1, Int(options.seconds * Double(options.watchRate)))
        let ready = try await writer.kv.put(.with { $0.key = Data("/w/ready".utf8) }, options: writer.options).header.revision
        let acks = AckTimes()
        let (live, liveContinuation) = AsyncStream.makeStream(of: Void.self)
        let watches = options.watches
        let arrivals = try await withThrowingTaskGroup(of: [(Int64, ContinuousClock.Instant)].self) { group in
            for w in 0..<watches {
                let client = watchers[w % watchers.count]
                group.addTask {
                    try await client.watch.watch(options: client.streamOptions, requestProducer: { writer in
                        try await writer.write(.with {
                            $0.createRequest = .with {
                                $0.key = Data("/w/".utf8)
                                $0.rangeEnd = Data("/w0".utf8)
                                $0.startRevision = ready
                            }
                        })
                        try await Task.sleep(for: .seconds(3_600))
                    }, onResponse: { response in
                        var seen: [(Int64, ContinuousClock.Instant)] = []
                        for try await message in response.messages {
                            let now = clock.now
                            for event in message.events {
                                if event.kv.key == Data("/w/ready".utf8) { liveContinuation.yield(); continue }
                                seen.append((event.kv.modRevision, now))
                            }
                            if seen.count >= puts { break }
                        }
                        return seen
                    })
                }
            }
            var liveCount = 0
            for await _ in live {
                liveCount += 1
                if liveCount == watches { break }
            }
            let interval = Duration.seconds(1) / options.watchRate
            var next = clock.now
            for i in 0..<puts {
                try await clock.sleep(until: next)
                let rev = try await writer.kv.put(.with {
                    $0.key = Data(("/w/" + CoordinatorBenchmark.key(i)).utf8)
                    $0.value = Data(CoordinatorBenchmark.value)
                }, options: writer.options).header.revision
                acks.record(rev, clock.now)
                next += interval
            }
            var all: [(Int64, ContinuousClock.Instant)] = []
            for try await seen in group { all += seen }
            return all
        }
        return acks.latencies(of: arrivals)
    }
}
