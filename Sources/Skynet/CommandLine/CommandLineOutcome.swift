import Foundation

/// What a command line asked of a configuration: the configuration itself, help, or a
/// usage error to report.
package enum CommandLineOutcome<Config> {
    /// The configuration to run with.
    case config(Config)
    /// `-help` (any spelling, or `help`): the text to print on stdout, then exit 0.
    case help(String)
    /// A bad flag, variable or value: one line for stderr, then exit 2.
    case usageError(String)

    /// Returns the configuration, or prints the help or the error and exits (0 or 2), the
    /// way Go's flag package and the seed's tools did.
    package func configOrExit() -> Config {
        switch self {
        case let .config(config):
            return config
        case let .help(text):
            FileHandle.standardOutput.write(Data(text.utf8))
            exit(0)
        case let .usageError(line):
            FileHandle.standardError.write(Data((line + "\n").utf8))
            exit(2)
        }
    }
}

/// Help and usage errors for the configurations programs read from their command line.
package enum CommandLineHelp {
    /// True when `arguments` ask for help: `-h`, `-help`, `--help`, or `help` first.
    package static func isRequested(_ arguments: [String]) -> Bool {
        arguments.first == "help" || arguments.contains { ["-h", "-help", "--help"].contains($0) }
    }

    /// The program's name as invoked.
    package static var toolName: String {
        URL(fileURLWithPath: CommandLine.arguments.first ?? "service").lastPathComponent
    }

    /// A help screen: usage, what the program does, each flag with its variable and default.
    package static func render(tool: String, summary: String, flags: [ConfigFlag], defaults: [String: String], examples: [String]) -> String {
        var text = "Usage: \(tool) [-flag=value ...]\n\n\(summary)\n\n"
        text += "Flags (-flag=value, -flag value and --flag value are the same). A flag overrides its\n"
        text += "SKYNET_* variable, which overrides the default:\n"
        let rows = flags.map { ("-\($0.name) \($0.value)", "\($0.help) (\($0.variable); default \(defaults[$0.name] ?? "none"))") }
            + [("-help", "print this help")]
        let width = rows.map(\.0.count).max() ?? 0
        for (left, right) in rows { text += "  " + left.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + right + "\n" }
        if !examples.isEmpty {
            text += "\nExamples:\n" + examples.map { "  \($0)\n" }.joined()
        }
        return text
    }

    /// One line: the tool, what is wrong, and where help is.
    package static func usageError(tool: String, _ error: ServiceConfigError) -> String {
        "\(tool): \(error) (see '\(tool) -help')"
    }
}
