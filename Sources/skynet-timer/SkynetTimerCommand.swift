import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Skynet
import SkynetCLI
import SkynetTimer

/// `skynet-timer`: one standalone instance of the timer service.
struct SkynetTimerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skynet-timer",
        abstract: "A standalone instance of the timer service (skynet.timer): durable, sharded timers with at-least-once callbacks.",
        usage: "skynet-timer [-flag=value ...]",
        discussion: """
            Registers as skynet.timer with the coordinators and takes its share of the timers' shards; run as many
            as you like. skynetd already runs one in-process unless given --no-timer.
            Once it serves, it prints one line to standard output: `skynet-timer serving HOST:PORT, http HOST:PORT`.
            SIGINT and SIGTERM stop it gracefully: its shards move to the other instances at once.
            Exit status: 0 stopped cleanly, 1 could not start, 2 usage error.

            Examples:
              skynet-timer --http 127.0.0.1:8049
              skynet-timer --coordinators 10.0.0.1:8046,10.0.0.2:8046 --listen 10.0.0.5:9000-9999 --http 10.0.0.5:8049
            """,
        version: "skynet-timer \(BuildInfo.description)")

    @Option(help: ArgumentHelp("Where the HTTP API listens, HOST:PORT (port 0 picks a free one); \"none\" for no HTTP API.", valueName: "host:port"))
    var http = "127.0.0.1:8049"

    @Option(help: ArgumentHelp("Coordinator addresses (default: $SKYNET_COORDINATORS, else 127.0.0.1:8046).", valueName: "host:port,..."))
    var coordinators: String?

    @Option(help: ArgumentHelp("Where it serves RPC calls: HOST:PORT or HOST:PORT-PORT.", valueName: "host:port[-port]"))
    var listen = "127.0.0.1:9000-9999"

    @Option(help: ArgumentHelp("Where it serves admin calls.", valueName: "host:port[-port]"))
    var admin = "127.0.0.1:9000-9999"

    @Option(help: "Region it registers in (default: $SKYNET_REGION, else local).")
    var region: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        if http != "none" { _ = try TimerHTTPAddress(http) }
        _ = try LogLevelFlag.level(logLevel)
    }

    func run() async throws {
        LogLevelFlag.bootstrap(try LogLevelFlag.level(logLevel))
        let environment = ProcessInfo.processInfo.environment
        let logger = Logger(label: "skynet.timer")
        let config: ServiceConfig
        do {
            config = try ServiceConfig(
                name: TimerServer.serviceName, region: region ?? environment["SKYNET_REGION"] ?? "local",
                serviceAddress: listen, adminAddress: admin,
                coordinators: (coordinators ?? environment["SKYNET_COORDINATORS"] ?? "127.0.0.1:8046").split(separator: ",").map(String.init),
                logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        let address = http == "none" ? nil : try TimerHTTPAddress(http)
        let server = TimerServer(
            config: config, httpAddress: address.map { ($0.host, $0.port) }, logger: logger,
            onServing: { rpc, httpPort in
                let line = "skynet-timer serving \(rpc)" + (httpPort.map { ", http \(address!.host):\($0)" } ?? "") + "\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            })
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

@main
enum SkynetTimerMain {
    static func main() async {
        // Swift concurrency's jobs run on NIO's event loop: deliveries, their HTTP requests
        // and answers, and the coordinator calls share one thread instead of hopping
        // between pools (each hop a futex wake). One loop, not one per core: measured by
        // `sky-bench timer`, two cost more CPU per firing and fired later.
        NIOSingletons.groupLoopCountSuggestion = 1
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await CommandLineTool.main(SkynetTimerCommand.self)
    }
}
