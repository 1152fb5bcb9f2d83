import ArgumentParser
import SkynetCLI

/// `sky-bench`: Skynet's benchmarks. Each scenario starts what it needs on 127.0.0.1,
/// runs, stops it, and prints one JSON object with its figures and the baseline
/// measured in the same run. Build with `-c release`.
struct SkyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sky-bench",
        abstract: "Skynet benchmarks: each starts what it needs on 127.0.0.1 and prints one JSON object.",
        discussion: """
            Build in release mode first (make bench does it all): the figures of a debug build mean nothing.
            Each JSON object holds the figures, their baseline measured in the same run, and targets_met.

            Examples:
              sky-bench rpc
              sky-bench coordinator
              sky-bench vs-etcd
              sky-bench help service
            """,
        version: "sky-bench \(BuildInfo.description)",
        subcommands: [RPCBenchmark.self, CoordinatorBenchmark.self, ServiceBenchmark.self, TopologyBenchmark.self, AbuseBenchmark.self, AbuseWorker.self, TimerBenchmark.self, VsEtcdBenchmark.self])
}

@main
enum SkyBenchMain {
    static func main() async {
        await CommandLineTool.main(SkyBench.self)
    }
}
