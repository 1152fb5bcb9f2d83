import ArgumentParser
import Foundation
import MessagePack
import Skynet

/// `sky-bench topology`: `sky topology` end to end, as a process, over many registered
/// instances; the baseline is `sky status` (process start plus one call) in the same run.
/// Then, with those instances registered, the time from a registration's write to its
/// frame in an open dashboard's event stream, beside the time to the same event on a
/// plain coordinator watch (the baseline) in the same run.
struct TopologyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Time `sky topology` over thousands of registered instances (real sessions), vs `sky status`; and registration to dashboard event, vs a coordinator watch.",
        discussion: """
            Examples:
              sky-bench topology
            """)

    @Option(help: "Instances to register, each with its own session.")
    var instances = 2_000

    @Option(help: "Runs of each command; the median is reported.")
    var runs = 5

    @Option(help: "Registrations timed from write to the dashboard's event stream.")
    var registrations = 300

    func run() async throws {
        let daemon = try DaemonProcess(dashboard: true)
        defer { daemon.stop() }
        let clients = (0..<8).map { _ in CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: .seconds(30)), logger: .init(label: "bench")) }
        let regions = ["us-east", "us-west", "eu-west", "ap-south"]
        let services = ["echo", "users", "orders", "search", "billing"]
        let count = instances
        let started = Date()
        let sessions = try await withThrowingTaskGroup(of: [CoordinatorSession].self) { group in
            for (c, client) in clients.enumerated() {
                group.addTask {
                    var mine: [CoordinatorSession] = []
                    for i in stride(from: c, to: count, by: clients.count) {
                        let session = try await client.openSession(ttl: .seconds(60))
                        let region = regions[i % regions.count], service = services[i / 7 % services.count]
                        let host = "host-\(i % 100)", port = 9000 + i / 100
                        let info = ServiceInfo(
                            uuid: UUID().uuidString, name: service, version: "\(1 + i % 3)", region: region, host: host,
                            serviceAddress: "10.0.\(i % 100).1:\(port)", adminAddress: "10.0.\(i % 100).1:\(port + 1000)",
                            pid: Int32(1000 + i), started: started, registered: i % 10 != 0)
                        try await client.set(info.path!, try MessagePackEncoder().encode(info), session: session.id)
                        mine.append(session)
                    }
                    return mine
                }
            }
            var all: [CoordinatorSession] = []
            for try await some in group { all += some }
            return all
        }
        let sky = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sky").path
        guard FileManager.default.isExecutableFile(atPath: sky) else { throw BenchError("sky is not built beside sky-bench; run `swift build -c release`") }
        func time(_ arguments: [String]) throws -> (Double, Int) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: sky)
            process.arguments = arguments + ["-coordinators", daemon.address]
            let out = Pipe()
            process.standardOutput = out
            let start = ContinuousClock.now
            try process.run()
            let bytes = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw BenchError("sky \(arguments) failed with \(process.terminationStatus)") }
            return ((ContinuousClock.now - start).seconds * 1000, bytes.count)
        }
        var topology: [Double] = [], status: [Double] = [], asking: [Double] = []
        var lines = 0
        for _ in 0..<runs {
            let (ms, bytes) = try time(["topology", "-no-figures"])
            topology.append(ms)
            lines = bytes
            status.append(try time(["status"]).0)
            // With figures: an admin call to each instance (these are not live processes,
            // so each call fails; the time is the cost of asking 2,000 of them).
            asking.append(try time(["topology"]).0)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let (dashboard, watch) = try await registrationToDashboard(daemon: daemon, client: clients[0], session: sessions[0], started: started)
        for session in sessions { try? await session.close() }
        for client in clients { await client.close() }
        let report: [(String, Any)] = [
            ("scenario", "topology"),
            ("topology_ms", rounded(median(topology), 1)),
            ("status_ms", rounded(median(status), 1)),
            ("topology_asking_instances_ms", rounded(median(asking), 1)),
            ("instances", count),
            ("sessions", sessions.count),
            ("output_bytes", lines),
            ("runs", runs),
            ("dashboard_event_p50_ms", rounded(dashboard.percentileMicroseconds(0.5) / 1000, 2)),
            ("dashboard_event_p99_ms", rounded(dashboard.percentileMicroseconds(0.99) / 1000, 2)),
            ("watch_event_p50_ms", rounded(watch.percentileMicroseconds(0.5) / 1000, 2)),
            ("watch_event_p99_ms", rounded(watch.percentileMicroseconds(0.99) / 1000, 2)),
            ("registrations_timed", dashboard.count),
            ("targets_met", median(topology) <= 300 && dashboard.percentileMicroseconds(0.99) <= 100_000),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]
        print(JSONReport.render(report))
    }

    /// Registers `registrations` more instances one at a time, each once the last was seen,
    /// and times each from its write to its `put` frame on the dashboard's stream and to
    /// its event on a coordinator watch of the same glob.
    private func registrationToDashboard(
        daemon: DaemonProcess, client: CoordinatorClient, session: CoordinatorSession, started: Date
    ) async throws -> (dashboard: LatencySamples, watch: LatencySamples) {
        guard let address = daemon.dashboard else { throw BenchError("skynetd printed no dashboard address") }
        let stream = DashboardStream(address)
        defer { stream.close() }
        var frames = stream.frames.makeAsyncIterator()
        guard let snapshot = await frames.next(), snapshot.event == "snapshot" else { throw BenchError("the dashboard's stream began without a snapshot") }
        let (revision, _) = try await client.walkAtRevision(ServicePath.glob())
        var events = client.watch(ServicePath.glob(), fromRev: revision + 1).makeAsyncIterator()
        var dashboard = LatencySamples(capacity: registrations), watch = LatencySamples(capacity: registrations)
        for i in 0..<registrations {
            let info = ServiceInfo(
                uuid: UUID().uuidString, name: "timed", version: "1", region: "bench", host: "host-\(i % 10)",
                serviceAddress: "10.1.0.1:\(20_000 + i)", adminAddress: "10.1.0.1:\(30_000 + i)",
                pid: Int32(50_000 + i), started: started, registered: true)
            let path = info.path!
            let written = ContinuousClock.now
            _ = try await client.set(path, try MessagePackEncoder().encode(info), session: session.id)
            var seenOnWatch = false
            while !seenOnWatch, let update = try await events.next() {
                if update.events.contains(where: { $0.path.string == path }) {
                    watch.record(ContinuousClock.now - written)
                    seenOnWatch = true
                }
            }
            while true {
                guard let frame = await frames.next() else { throw BenchError("the dashboard's stream ended") }
                if frame.event == "put", frame.path == path {
                    dashboard.record(frame.arrived - written)
                    break
                }
            }
        }
        return (dashboard, watch)
    }
}
