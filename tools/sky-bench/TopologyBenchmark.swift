import ArgumentParser
import Foundation
import MessagePack
import Skynet

/// `sky-bench topology`: `sky topology` end to end, as a process, over many registered
/// instances; the baseline is `sky status` (process start plus one call) in the same run.
struct TopologyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Time `sky topology` over thousands of registered instances (real sessions), vs `sky status`.",
        discussion: """
            Examples:
              sky-bench topology
            """)

    @Option(help: "Instances to register, each with its own session.")
    var instances = 2_000

    @Option(help: "Runs of each command; the median is reported.")
    var runs = 5

    func run() async throws {
        let daemon = try DaemonProcess()
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
        var topology: [Double] = [], status: [Double] = []
        var lines = 0
        for _ in 0..<runs {
            let (ms, bytes) = try time(["topology"])
            topology.append(ms)
            lines = bytes
            status.append(try time(["status"]).0)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        for session in sessions { try? await session.close() }
        for client in clients { await client.close() }
        let report: [(String, Any)] = [
            ("scenario", "topology"),
            ("topology_ms", rounded(median(topology), 1)),
            ("status_ms", rounded(median(status), 1)),
            ("instances", count),
            ("sessions", sessions.count),
            ("output_bytes", lines),
            ("runs", runs),
            ("targets_met", median(topology) <= 300),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]
        print(JSONReport.render(report))
    }
}
