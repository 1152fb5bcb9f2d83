import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SkynetCoordinator

/// `skynetd`: the Skynet coordinator daemon.
@main
struct Skynetd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skynetd",
        abstract: "The Skynet coordinator: a durable config tree with revisions, watches and sessions, served over MessagePack-RPC.",
        discussion: """
            `skynetd --dev` runs the embedded default: one node on 127.0.0.1:8046 with its data in ./.skynet.
            Otherwise name the data directory with --data-dir (or SKYNET_DATA_DIR).
            Once it serves, skynetd prints one line to standard output: `skynetd listening on HOST:PORT`.
            SIGINT and SIGTERM stop it gracefully: in-flight calls finish, the log is closed.
            """)

    @Flag(help: "Development mode: one node on 127.0.0.1:8046, data in ./.skynet (flags below still override).")
    var dev = false

    @Option(help: "This node's name, reported by `status`.")
    var name: String?

    @Option(help: ArgumentHelp("Client address to listen on, HOST:PORT; port 0 picks a free port.", valueName: "host:port"))
    var listen = "127.0.0.1:8046"

    @Option(help: ArgumentHelp("Directory for the write-ahead log and snapshots (default with --dev: ./.skynet; else $SKYNET_DATA_DIR).", valueName: "path"))
    var dataDir: String?

    @Option(help: "Take a snapshot (and drop the log before it) every N log entries.")
    var snapshotEvery: UInt64 = 10_000

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        _ = try ListenAddress(listen)
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; found \"\(logLevel)\"")
        }
        guard snapshotEvery > 0 else { throw ValidationError("--snapshot-every must be at least 1") }
        if !dev, dataDir == nil, ProcessInfo.processInfo.environment["SKYNET_DATA_DIR"] == nil {
            throw ValidationError("name a data directory with --data-dir (or SKYNET_DATA_DIR), or use --dev for ./.skynet")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "skynetd")
        let address = try ListenAddress(listen)
        let directory = dataDir ?? ProcessInfo.processInfo.environment["SKYNET_DATA_DIR"] ?? "./.skynet"
        let node: CoordinatorNode
        do {
            node = try CoordinatorNode.open(
                configuration: .init(name: name ?? (dev ? "dev" : "skynetd"), dataDirectory: directory, snapshotEvery: snapshotEvery),
                logger: logger)
        } catch {
            logger.critical("cannot open the data directory", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let server = CoordinatorServer(node: node, host: address.host, port: address.port, logger: logger)
        let bound: String
        do {
            let local = try await server.start()
            bound = "\(address.host):\(local.port ?? address.port)"
        } catch {
            logger.critical("cannot listen", metadata: ["address": "\(listen)", "error": "\(error)"])
            node.stop()
            throw ExitCode(1)
        }
        FileHandle.standardOutput.write(Data("skynetd listening on \(bound)\n".utf8))
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
