import ArgumentParser
import Foundation

/// A tool's commands as their definitions declare them, read from swift-argument-parser's
/// own description of the tool (the JSON of `--experimental-dump-help`), so an overview help
/// screen lists every command and flag without a hand-kept copy that could drift.
package struct CommandIndex: Sendable {
    /// One command: its name, its positional arguments and its flags, in Go style.
    package struct Entry: Sendable, Equatable {
        /// The name typed after the tool (`topology`).
        package var name: String
        /// Other names it answers to.
        package var aliases: [String]
        /// Its one-line description.
        package var abstract: String
        /// Its positional arguments, `<path>` or `[<path>]` when optional.
        package var arguments: [String]
        /// Its flags, `-service`, without the ones every command shares.
        package var flags: [String]
    }

    /// The commands, in the order the tool declares them.
    package let entries: [Entry]

    /// Reads `root`'s subcommands; `shared` names the flags every command takes, left out of
    /// each entry (list them once instead).
    package init(_ root: any ParsableCommand.Type, shared: Set<String> = []) throws {
        let tool = try JSONDecoder().decode(ToolDescription.self, from: Data(root._dumpHelp().utf8))
        let automatic: Set<String> = ["help", "generate-completion-script"]
        func displayed(_ commands: [ToolDescription.Command]?) -> [ToolDescription.Command] {
            (commands ?? []).filter { $0.shouldDisplay && $0.commandName != "help" }
        }
        func entry(_ command: ToolDescription.Command, prefix: String) -> Entry {
            let arguments = (command.arguments ?? []).filter(\.shouldDisplay)
            let positional = arguments.filter { $0.kind == "positional" }.map { argument in
                let name = "<\(argument.valueName ?? argument.preferredName?.name ?? "value")>"
                return argument.isOptional ? "[\(name)]" : name
            }
            let flags = arguments.filter { $0.kind != "positional" }.compactMap { argument -> String? in
                guard let name = Self.longName(argument), !automatic.contains(name), !shared.contains(name) else { return nil }
                return "-" + name
            }
            return Entry(name: prefix + command.commandName, aliases: command.aliases ?? [], abstract: command.abstract ?? "", arguments: positional, flags: flags)
        }
        // A group (`timer`) is listed, then each of its commands as `timer create`.
        entries = displayed(tool.command.subcommands).flatMap { command in
            [entry(command, prefix: "")] + displayed(command.subcommands).map { entry($0, prefix: command.commandName + " ") }
        }
    }

    /// The entry named `name` (or aliased so).
    package func entry(_ name: String) -> Entry? {
        entries.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// The entries under section titles: each command as `name <arguments>`, its abstract,
    /// and its flags on the next line. Commands no section names go under "Other".
    package func render(sections: [(title: String, commands: [String])]) -> String {
        var text = ""
        var listed = Set<String>()
        func add(_ entry: Entry) {
            listed.insert(entry.name)
            let head = ([entry.name] + entry.arguments).joined(separator: " ")
            let aliases = entry.aliases.isEmpty ? "" : " (also: \(entry.aliases.joined(separator: ", ")))"
            text += "  " + head.padding(toLength: max(head.count, 22), withPad: " ", startingAt: 0) + "  " + entry.abstract + aliases + "\n"
            if !entry.flags.isEmpty { text += "      " + entry.flags.joined(separator: " ") + "\n" }
        }
        for section in sections {
            text += "\n\(section.title)\n"
            for name in section.commands {
                if let entry = entry(name) { add(entry) }
                entries.filter { $0.name.hasPrefix(name + " ") }.forEach(add)
            }
        }
        let rest = entries.filter { !listed.contains($0.name) }
        if !rest.isEmpty {
            text += "\nOther\n"
            rest.forEach(add)
        }
        return text
    }

    private static func longName(_ argument: ToolDescription.Argument) -> String? {
        let names = argument.names ?? []
        return (names.first { $0.kind == "long" } ?? names.first { $0.kind == "longWithSingleDash" } ?? argument.preferredName)?.name
    }
}

/// The part of swift-argument-parser's tool description (`ToolInfoV0`) the index reads.
package struct ToolDescription: Decodable, Sendable {
    package struct Command: Decodable, Sendable {
        package var commandName: String
        package var aliases: [String]?
        package var abstract: String?
        package var shouldDisplay: Bool
        package var subcommands: [Command]?
        package var arguments: [Argument]?
    }

    package struct Argument: Decodable, Sendable {
        package struct Name: Decodable, Sendable {
            package var kind: String
            package var name: String
        }

        package var kind: String
        package var shouldDisplay: Bool
        package var isOptional: Bool
        package var names: [Name]?
        package var preferredName: Name?
        package var valueName: String?
    }

    package var command: Command
}
