import ArgumentParser
import Foundation

/// How every executable of the platform turns its arguments into a run and an exit status.
///
/// The rules are the same for each tool, so a user learns them once:
/// - flags are Go-style as in the seed (`-region=us`, `-region us`, `--region us`);
/// - `help`, `-h`, `-help` and `--help` print help on stdout and exit 0, as do
///   `--version` and `--generate-completion-script`;
/// - a usage error prints one line on stderr, with a hint naming the help to read, and
///   exits 2;
/// - a failed operation prints one sentence on stderr and exits 1; a command that has
///   already said why it failed throws `ExitCode` and only the status is used.
package enum CommandLineTool {
    /// Parses `arguments` (without the program name) for `Root`, runs the chosen command and
    /// exits. `rootHelp`, when given, replaces the generated help of the root command.
    package static func main<Root: ParsableCommand>(
        _ root: Root.Type, arguments: [String] = Array(CommandLine.arguments.dropFirst()),
        rootHelp: (() -> String)? = nil
    ) async -> Never {
        let invocation = Invocation(root, arguments)
        if let rootHelp, invocation.asksForRootHelp {
            emit(rootHelp(), to: .standardOutput)
            exit(0)
        }
        let command: any ParsableCommand
        do {
            command = try Root.parseAsRoot(invocation.normalized)
        } catch {
            finish(error, invocation, duringParse: true)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
        } catch {
            finish(error, invocation, duringParse: false)
        }
        exit(0)
    }

    private static func finish<Root: ParsableCommand>(_ error: any Error, _ invocation: Invocation<Root>, duringParse: Bool) -> Never {
        if let code = error as? ExitCode { exit(code.rawValue) }
        let code = Root.exitCode(for: error)
        if code == .success {
            emit(Root.fullMessage(for: error), to: .standardOutput)
            exit(0)
        }
        if duringParse || code == .validationFailure {
            emit("\(invocation.toolName): \(invocation.usageMessage(Root.message(for: error)))", to: .standardError)
            exit(2)
        }
        emit("\(invocation.toolName): \(ErrorText.sentence(error))", to: .standardError)
        exit(1)
    }

    /// Writes `text` and a newline at once (no buffering left behind at `exit`).
    package static func emit(_ text: String, to handle: FileHandle) {
        handle.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

/// One command line as typed and as the parser reads it.
struct Invocation<Root: ParsableCommand> {
    let original: [String]
    let normalized: [String]

    init(_ root: Root.Type, _ arguments: [String]) {
        original = arguments
        var normalized = GoStyleArguments.normalize(arguments)
        // `tool help` works for tools without subcommands too, and `tool --version` for tools
        // whose version is a `version` command.
        if Root.configuration.subcommands.isEmpty, normalized == ["help"] { normalized = ["--help"] }
        normalized = Self.commandFirst(normalized)
        if normalized == ["--version"], Root.configuration.version.isEmpty,
           Root.configuration.subcommands.contains(where: { $0._commandName == "version" }) {
            normalized = ["version"]
        }
        self.normalized = normalized
    }

    /// Flags written before the command, in the seed's style (`sky -region=us topology`,
    /// `sky -coordinators=h:8046 timer list`), move after it, where the command that declares
    /// them reads them: swift-argument-parser reads a command's flags only after its name.
    /// A flag's value may itself be a command's name (`sky -service timer topology`), so each
    /// place a command name appears is tried in turn, those right after a flag without `=`
    /// (perhaps its value) last, and the first line that parses wins; when none does, the
    /// first tried is kept so the error speaks of that command's flags.
    static func commandFirst(_ arguments: [String]) -> [String] {
        guard arguments.first?.hasPrefix("-") == true, !Root.configuration.subcommands.isEmpty,
              !parses(arguments)
        else { return arguments }
        let typed = arguments.prefix { $0 != "--" }
        let command = { (word: String) in Root.configuration.subcommands.first { $0.isNamed(word) } }
        // A place is a top-level command's name, unless it names a command of the group just before it.
        let places = typed.indices.dropFirst().filter { i in
            command(typed[i]) != nil
                && command(typed[i - 1])?.configuration.subcommands.contains { $0.isNamed(typed[i]) } != true
        }
        let maybeValue = { (i: Int) in typed[i - 1].hasPrefix("-") && !typed[i - 1].contains("=") }
        let candidates = (places.filter { !maybeValue($0) } + places.filter(maybeValue)).map { i in
            let nested = i + 1 < typed.count && command(typed[i])?.configuration.subcommands.contains { $0.isNamed(typed[i + 1]) } == true
            let end = nested ? i + 2 : i + 1
            return Array(arguments[i..<end]) + arguments[..<i] + arguments[end...]
        }
        return candidates.first(where: parses) ?? candidates.first ?? arguments
    }

    /// True when `arguments` parse, or ask for help or the version.
    private static func parses(_ arguments: [String]) -> Bool {
        do {
            _ = try Root.parseAsRoot(arguments)
            return true
        } catch {
            return Root.exitCode(for: error) == .success
        }
    }

    var toolName: String { Root.configuration.commandName ?? "\(Root.self)".lowercased() }

    private var subcommandNames: Set<String> {
        Set(Root.configuration.subcommands.flatMap { [$0._commandName] + $0.configuration.aliases })
    }

    /// The words that are not flags.
    private var positional: [String] { normalized.filter { !$0.hasPrefix("-") } }

    /// True for `tool`, `tool help`, `tool -h`, `tool -help` and `tool --help`.
    var asksForRootHelp: Bool {
        let words = positional
        if normalized.isEmpty || words == ["help"] { return true }
        return words.isEmpty && normalized.contains { HelpRequest.flags.contains($0) }
    }

    /// The subcommand the user named, if any.
    var subcommand: String? { positional.first { subcommandNames.contains($0) } }

    /// The parser's message on one line, in the spelling the user typed, with a hint.
    func usageMessage(_ message: String) -> String {
        var text = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        // Answer in the user's style: one who types -region reads -region, suggestions too.
        if zip(original, normalized).contains(where: { typed, read in typed != read && !typed.hasPrefix("--") }) {
            text = text.replacingOccurrences(of: "'--", with: "'-")
        }
        if let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true {
            text = first.lowercased() + text.dropFirst()
        }
        let help = Root.configuration.subcommands.isEmpty
            ? "\(toolName) --help" : subcommand.map { "\(toolName) help \($0)" } ?? "\(toolName) help"
        return "\(text) (see '\(help)')"
    }
}

/// The spellings of a request for help.
package enum HelpRequest {
    /// `-h`, `-help` (read as `--help`) and `--help`.
    package static let flags: Set<String> = ["-h", "--help"]
}

extension ParsableCommand {
    /// True when `word` is this command's name or one of its aliases.
    static func isNamed(_ word: String) -> Bool {
        _commandName == word || configuration.aliases.contains(word)
    }
}
