import ArgumentParser

/// `sky-bench`: Skynet's benchmarks. Each scenario starts what it needs on 127.0.0.1,
/// runs, stops it, and prints one JSON object with its figures and the baseline
/// measured in the same run. Build with `-c release`.
@main
struct SkyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sky-bench",
        abstract: "Skynet benchmarks: each prints one JSON object.",
        subcommands: [RPCBenchmark.self, CoordinatorBenchmark.self, ServiceBenchmark.self, TopologyBenchmark.self])
}
