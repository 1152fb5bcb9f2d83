import Foundation

extension ClientConfig {
    /// Each flag a client program takes, with the variable it overrides and its help line.
    package static let flagTable: [ConfigFlag] = [
        ConfigFlag("coordinators", "SKYNET_COORDINATORS", value: "HOST:PORT,...", help: "the coordinator addresses"),
        ConfigFlag("region", "SKYNET_REGION", value: "REGION", help: "the caller's region: instances there are preferred"),
        ConfigFlag("host", "SKYNET_HOST", value: "HOST", help: "the caller's host: instances there are preferred most"),
        ConfigFlag("timeout", "SKYNET_TIMEOUT", value: "SECONDS", help: "how long a call may take over all its attempts"),
    ] + TLSFlags.table + [TokenFlag.flag]

    /// The flags `commandLine` understands.
    public static var flags: Set<String> { Set(flagTable.map(\.name)) }

    /// The configuration a client program runs with: the defaults, overridden by
    /// `SKYNET_COORDINATORS`, `SKYNET_REGION`, `SKYNET_HOST` and `SKYNET_TIMEOUT`, overridden
    /// by the flags `-coordinators -region -host -timeout`.
    ///
    /// Made for a program's first line: `-help` (or `-h`, `--help`, `help`) prints the flags
    /// and exits 0; a bad flag or value prints one line naming it and exits 2.
    public static func commandLine(
        _ defaults: ClientConfig = ClientConfig(),
        arguments: [String] = Array(CommandLine.arguments.dropFirst()),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> ClientConfig {
        parseCommandLine(tool: CommandLineHelp.toolName, defaults: defaults, arguments: arguments, environment: environment).configOrExit()
    }

    /// What `commandLine` decides, without printing or exiting.
    package static func parseCommandLine(
        tool: String, defaults: ClientConfig, arguments: [String], environment: [String: String]
    ) -> CommandLineOutcome<ClientConfig> {
        if CommandLineHelp.isRequested(arguments) {
            let values = [
                "coordinators": defaults.coordinators.joined(separator: ","), "region": defaults.region, "host": defaults.host,
                "timeout": "\(defaults.timeout.seconds)", "token": defaults.token == nil ? "none" : "set",
            ].merging(TLSFlags.defaults(defaults.tls)) { first, _ in first }
            return .help(CommandLineHelp.render(
                tool: tool,
                summary: "Finds services through the Skynet coordinator and calls them over a self-healing pool.",
                flags: flagTable, defaults: values,
                examples: ["\(tool) -coordinators 127.0.0.1:8046 -region us", "SKYNET_REGION=eu \(tool) -timeout 2"]))
        }
        do {
            return .config(try defaults.overriding(environment: environment, arguments: arguments))
        } catch {
            return .usageError(CommandLineHelp.usageError(tool: tool, error))
        }
    }

    /// This configuration with `SKYNET_*` variables, then flags, applied; errors name the
    /// variable or flag at fault.
    func overriding(environment: [String: String], arguments: [String]) throws(ServiceConfigError) -> ClientConfig {
        let flags = try GoFlags(arguments, known: Self.flags, booleans: TLSFlags.booleans)
        try flags.requireOnlyFlags()
        func pick(_ flag: String, _ variable: String) -> (value: String, source: String)? {
            flags.value(flag, orVariable: variable, in: environment)
        }
        var config = self
        if let (list, source) = pick("coordinators", "SKYNET_COORDINATORS") {
            let addresses = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !addresses.isEmpty, addresses.allSatisfy({ HostPort($0) != nil }) else {
                throw ServiceConfigError(field: source, "expected host:port[,host:port...], found \"\(list)\"")
            }
            config.coordinators = addresses
        }
        if let (region, source) = pick("region", "SKYNET_REGION") {
            try ServicePath.validate(region, field: source)
            config.region = region
        }
        if let (host, source) = pick("host", "SKYNET_HOST") {
            try ServicePath.validate(host, field: source)
            config.host = host
        }
        if let (text, source) = pick("timeout", "SKYNET_TIMEOUT") {
            guard let seconds = Double(text), seconds > 0, seconds <= 86_400 else {
                throw ServiceConfigError(field: source, "expected a number of seconds above 0 (up to 86400), found \"\(text)\"")
            }
            config.timeout = .milliseconds(Int((seconds * 1000).rounded()))
        }
        config.tls = try TLSFlags.tls(flags, environment: environment, current: tls)
        config.token = try TokenFlag.token(pick("token", "SKYNET_TOKEN")) ?? token
        return config
    }
}
