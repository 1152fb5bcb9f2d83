import ArgumentParser
import Foundation
import NIOCore
import Testing

@testable import SkynetCLI

/// A tool shaped like `sky`: shared options, a filter group, positional arguments, an alias.
private struct Tool: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tool", subcommands: [Look.self, Put.self, Group.self])
}

/// A group of commands, like `sky timer`.
private struct Group: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group", subcommands: [Put.self])
}

private struct Shared: ParsableArguments {
    @Flag var json = false
    @Option var coordinators: String?
}

private struct Look: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Look at things.", aliases: ["see"])
    @OptionGroup var shared: Shared
    @Option var region: String?
    @Option(help: ArgumentHelp("Only in or out of rotation.", valueName: "true|false")) var registered: Bool?
}

private struct Put: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Put a value.")
    @OptionGroup var shared: Shared
    @Argument var path: String
    @Argument var value: String?
    @Option var rev: Int?
}

/// A tool without subcommands, like `skynetd`.
private struct Daemon: ParsableCommand {
    @Flag var dev = false
}

@Suite("How every executable reads its command line")
struct CommandLineToolTests {
    @Test("flags before a command move after it, also when a value is a command's name", arguments: [
        (["-coordinators=h:1", "-json", "group", "put", "/p"], ["group", "put", "--coordinators=h:1", "--json", "/p"]),
        (["-json", "look", "-region=us"], ["look", "--json", "--region=us"]),
        (["-region", "us", "look"], ["look", "--region", "us"]),
        (["group", "put", "-json", "/p"], ["group", "put", "--json", "/p"]),
        (["-coordinators", "group", "look"], ["look", "--coordinators", "group"]),
        (["-region", "look", "see"], ["see", "--region", "look"]),
    ] as [([String], [String])])
    func commandFirst(typed: [String], read: [String]) throws {
        let normalized = Invocation(Tool.self, typed).normalized
        #expect(normalized == read)
        _ = try Tool.parseAsRoot(normalized)
    }

    @Test("a line no placement parses is kept with the command first, so its error names that command")
    func commandFirstUnparsable() {
        let invocation = Invocation(Tool.self, ["-regio=us", "look"])
        #expect(invocation.normalized == ["look", "--regio=us"])
        #expect(invocation.usageMessage("Unknown option '--regio=us'") == "unknown option '-regio=us' (see 'tool help look')")
        #expect(Invocation(Tool.self, ["-json"]).normalized == ["--json"])
    }

    @Test("a flag set before the command reaches the command")
    func commandFirstReachesCommand() throws {
        let parsed = try Tool.parseAsRoot(Invocation(Tool.self, ["-coordinators=h:1", "group", "put", "/p"]).normalized)
        #expect((parsed as? Put)?.shared.coordinators == "h:1")
        let look = try Tool.parseAsRoot(Invocation(Tool.self, ["-region=us", "-registered=false", "look"]).normalized)
        #expect((look as? Look)?.region == "us")
        #expect((look as? Look)?.registered == false)
    }

    @Test("Go-style flags become double-dash ones; single letters, numbers and what follows -- stay")
    func goStyle() {
        #expect(GoStyleArguments.normalize(["-region=us", "-region", "us", "--json", "-h", "-5", "-", "--", "-raw"])
            == ["--region=us", "--region", "us", "--json", "-h", "-5", "-", "--", "-raw"])
    }

    @Test("the root help is asked for by every spelling, and only then", arguments: [
        ([], true), (["help"], true), (["-h"], true), (["-help"], true), (["--help"], true),
        (["look"], false), (["help", "look"], false), (["look", "--help"], false), (["-json"], false),
    ] as [([String], Bool)])
    func rootHelp(arguments: [String], expected: Bool) {
        #expect(Invocation(Tool.self, arguments).asksForRootHelp == expected)
    }

    @Test("`help` alone means --help for a tool without subcommands")
    func helpWithoutSubcommands() {
        #expect(Invocation(Daemon.self, ["help"]).normalized == ["--help"])
        #expect(Invocation(Tool.self, ["help"]).normalized == ["help"])
    }

    @Test("a usage error is one line, in the spelling the user typed, with the help to read")
    func usageLine() throws {
        let invocation = Invocation(Tool.self, ["look", "-regio=us"])
        let message: String
        do {
            _ = try Tool.parseAsRoot(invocation.normalized)
            Issue.record("an unknown flag parsed")
            return
        } catch {
            message = invocation.usageMessage(Tool.message(for: error))
        }
        #expect(message.contains("'-regio"), "\(message)")
        #expect(!message.contains("--regio"), "\(message)")
        #expect(message.hasSuffix("(see 'tool help look')"), "\(message)")
        #expect(!message.contains("\n"))
        #expect(Invocation(Daemon.self, ["-dev", "-x"]).usageMessage("Unknown option '--x'") == "unknown option '-x' (see 'daemon --help')")
        #expect(Invocation(Daemon.self, ["--x"]).usageMessage("Unknown option '--x'") == "unknown option '--x' (see 'daemon --help')")
    }

    @Test("the command index lists every command with its arguments and flags, shared flags apart")
    func index() throws {
        let index = try CommandIndex(Tool.self, shared: ["json", "coordinators"])
        #expect(index.entries.map(\.name) == ["look", "put", "group", "group put"])
        #expect(index.entry("see")?.name == "look")
        #expect(index.entry("look")?.flags == ["-region", "-registered"])
        #expect(index.entry("put")?.arguments == ["<path>", "[<value>]"])
        #expect(index.entry("put")?.flags == ["-rev"])
        let text = index.render(sections: [("Looking", ["look"]), ("Grouped", ["group"])])
        #expect(text.contains("Looking\n  look"))
        #expect(text.contains("Grouped\n  group   "))
        #expect(text.contains("\n  group put <path> [<value>]"), "a group's commands follow it")
        #expect(text.contains("Other\n  put <path> [<value>]"))
        #expect(text.contains("(also: see)"))
        #expect(!text.contains("-json"))
    }

    @Test("errors read as sentences: system errors by their meaning, dumps never")
    func sentences() {
        #expect(ErrorText.sentence(IOError(errnoCode: EADDRINUSE, reason: "bind(descriptor:ptr:bytes:)")) == "address already in use")
        struct Opaque: Error {}
        #expect(ErrorText.sentence(Opaque()) == "unexpected failure")
        struct Dump: Error, CustomStringConvertible { var description = "CommandError(commandStack: [sky.Sky])" }
        #expect(ErrorText.sentence(Dump()) == "unexpected failure")
        struct Plain: Error, CustomStringConvertible { var description = "no such file /a\nat revision 3" }
        #expect(ErrorText.sentence(Plain()) == "no such file /a at revision 3")
        #expect(ErrorText.looksInternal("Swift.DecodingError.typeMismatch"))
        #expect(ErrorText.looksInternal("Connection errors: SingleConnectionFailure(target: [IPv4]127.0.0.1)"))
        #expect(!ErrorText.looksInternal("NotFound: /skynet/x. Retry later"))
        #expect(!ErrorText.looksInternal("no coordinator answered at h:1 (last error: cannot connect to h:1: connection refused)"))
    }

    @Test("the build knows its version and commit")
    func build() {
        #expect(!BuildInfo.version.isEmpty)
        #expect(!BuildInfo.commit.isEmpty)
        #expect(BuildInfo.description.contains(BuildInfo.version))
    }
}
