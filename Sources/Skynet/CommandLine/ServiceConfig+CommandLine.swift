import Foundation
import Logging

extension ServiceConfig {
    /// The configuration a service program runs with: these defaults, overridden by
    /// `SKYNET_*` variables, overridden by the seed's flags (`-name -version -region -host
    /// -l -admin -coordinators`).
    ///
    /// Made for a program's first line: `-help` (or `-h`, `--help`, `help`) prints every flag
    /// with its variable and default and exits 0; a bad flag, variable or value prints one
    /// line naming it and exits 2. Use `init` and `overriding(environment:arguments:)` to
    /// handle those yourself.
    public static func commandLine(
        name: String, version: String = "1", region: String = "local", host: String? = nil,
        serviceAddress: String = "127.0.0.1:9000-9999", adminAddress: String = "127.0.0.1:9000-9999",
        coordinators: [String] = ["127.0.0.1:8046"], sessionTTL: Duration = .seconds(5),
        logger: Logger = Logger(label: "skynet.service"),
        arguments: [String] = Array(CommandLine.arguments.dropFirst()),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> ServiceConfig {
        parseCommandLine(
            tool: CommandLineHelp.toolName, arguments: arguments, environment: environment,
            defaults: { () throws(ServiceConfigError) in
                try ServiceConfig(
                    name: name, version: version, region: region, host: host, serviceAddress: serviceAddress,
                    adminAddress: adminAddress, coordinators: coordinators, sessionTTL: sessionTTL, logger: logger)
            }
        ).configOrExit()
    }

    /// What `commandLine` decides, without printing or exiting.
    package static func parseCommandLine(
        tool: String, arguments: [String], environment: [String: String],
        defaults: () throws(ServiceConfigError) -> ServiceConfig
    ) -> CommandLineOutcome<ServiceConfig> {
        let base: ServiceConfig
        do {
            base = try defaults()
        } catch {
            return .usageError(CommandLineHelp.usageError(tool: tool, error))
        }
        if CommandLineHelp.isRequested(arguments) {
            let values = [
                "name": base.name, "version": base.version, "region": base.region, "host": base.host,
                "l": "\(base.serviceAddress)", "admin": "\(base.adminAddress)", "coordinators": base.coordinators.joined(separator: ","),
                "load-ceiling": base.loadCeiling.map { "\($0)" } ?? "none", "load-floor": base.loadFloor.map { "\($0)" } ?? "80% of the ceiling",
                "metrics": base.metricsAddress.map { "\($0)" } ?? "off",
                "insecure": "\(base.insecure)", "token": base.token == nil ? "none" : "set",
            ].merging(TLSFlags.defaults(base.tls)) { first, _ in first }
            return .help(CommandLineHelp.render(
                tool: tool,
                summary: """
                    Serves \(base.name) version \(base.version) in region \(base.region) over MessagePack-RPC and
                    registers it with the Skynet coordinator, until SIGINT, SIGTERM or `sky stop`; then
                    it leaves rotation, finishes the calls in flight and exits 0. Admin calls (register,
                    unregister, stop, logLevel, stats, info) are served on the admin address.
                    """,
                flags: flagTable, defaults: values,
                examples: [
                    "\(tool) -region=eu -l 127.0.0.1:9100-9199",
                    "SKYNET_COORDINATORS=10.0.0.1:8046,10.0.0.2:8046 \(tool) -host $(hostname)",
                ]))
        }
        do {
            return .config(try base.overriding(environment: environment, arguments: arguments))
        } catch {
            return .usageError(CommandLineHelp.usageError(tool: tool, error))
        }
    }
}
