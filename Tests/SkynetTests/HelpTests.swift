import Foundation
import Skynet
import SkynetCLI
import Testing

/// A tool's commands and flags as its own definitions declare them: swift-argument-parser's
/// description of the built binary (`--experimental-dump-help`), not a hand-kept list.
private func declared(_ tool: String) async throws -> ToolDescription {
    let dump = try await runTool(tool, ["--experimental-dump-help"])
    #expect(dump.status == 0, "\(tool) --experimental-dump-help: \(dump.err)")
    return try JSONDecoder().decode(ToolDescription.self, from: Data(dump.out.utf8))
}

/// The long names of a command's displayed flags, without the automatic ones.
private func flagNames(_ command: ToolDescription.Command) -> [String] {
    (command.arguments ?? []).filter { $0.shouldDisplay && $0.kind != "positional" }
        .compactMap { ($0.names ?? []).first { $0.kind == "long" }?.name }
        .filter { !["help", "version", "generate-completion-script"].contains($0) }
}

private let rootSpellings: [[String]] = [[], ["help"], ["-h"], ["-help"], ["--help"]]

@Suite("Help in every spelling, usage errors on one line, for every executable")
struct HelpTests {
    @Test("sky, sky help, sky -h, sky -help, sky --help: every command and every flag, on stdout, exit 0")
    func skyOverview() async throws {
        let tool = try await declared("sky")
        let commands = (tool.command.subcommands ?? []).filter { $0.shouldDisplay && $0.commandName != "help" }
        #expect(commands.count >= 18, "sky declares its commands: \(commands.map(\.commandName))")
        for spelling in rootSpellings {
            let run = try await runTool("sky", spelling)
            #expect(run.status == 0, "sky \(spelling): \(run.err)")
            #expect(run.err.isEmpty, "sky \(spelling) wrote to stderr: \(run.err)")
            #expect(run.out.contains("Usage: sky [-flag=value ...] <command>"), "sky \(spelling)")
            for command in commands {
                #expect(run.out.contains("\n  \(command.commandName)"), "sky \(spelling) lists \(command.commandName)")
                for flag in flagNames(command) {
                    #expect(run.out.contains("-\(flag)"), "sky \(spelling) names -\(flag) of \(command.commandName)")
                }
                if let abstract = command.abstract { #expect(run.out.contains(abstract), "the description of \(command.commandName)") }
            }
        }
    }

    @Test("sky help CMD and sky CMD -h, -help, --help: that command's flags with examples, exit 0")
    func skyCommandHelp() async throws {
        let tool = try await declared("sky")
        // A group (`sky timer`, `sky auth role`) lists its commands, with examples; each
        // command under it, at any depth, is checked like a top-level one.
        var commands: [(path: [String], command: ToolDescription.Command)] = []
        var groups: [(path: [String], command: ToolDescription.Command)] = (tool.command.subcommands ?? [])
            .filter { $0.shouldDisplay && $0.commandName != "help" }.map { ([$0.commandName], $0) }
        while let (path, command) = groups.popLast() {
            let children = (command.subcommands ?? []).filter { $0.shouldDisplay && $0.commandName != "help" }
            guard !children.isEmpty else {
                commands.append((path, command))
                continue
            }
            let name = path.joined(separator: " ")
            let run = try await runTool("sky", path + ["--help"])
            #expect(run.status == 0, "sky \(name) --help: \(run.err)")
            #expect(run.out.contains("Examples:\n  sky \(name)"), "sky \(name) --help shows examples")
            for child in children {
                #expect(run.out.contains(child.commandName), "sky \(name) --help lists \(child.commandName)")
                groups.append((path + [child.commandName], child))
            }
        }
        for (path, command) in commands {
            let name = path.joined(separator: " ")
            for spelling in [["help"] + path, path + ["-h"], path + ["-help"], path + ["--help"]] {
                let run = try await runTool("sky", spelling)
                #expect(run.status == 0, "sky \(spelling): \(run.err)")
                #expect(run.err.isEmpty)
                #expect(run.out.contains("Examples:\n  sky \(name)") || (command.aliases ?? []).contains { run.out.contains("Examples:\n  sky \($0)") },
                        "sky \(spelling) shows examples")
                // Commands that work on local files or this binary take no deployment flags.
                let local = ["version", "tls ca", "tls cert"].contains(name)
                for flag in flagNames(command) + (local ? [] : ["coordinators", "json"]) {
                    #expect(run.out.contains("--\(flag)"), "sky \(spelling) names --\(flag)")
                }
            }
        }
        for alias in ["versions"] {
            #expect(try await runTool("sky", ["help", alias]).status == 0)
        }
    }

    @Test("skynetd, skynet-timer and sky-bench: help in every spelling names every flag and command, exit 0; --version says the build")
    func daemonAndBench() async throws {
        for tool in ["skynetd", "skynet-timer"] {
            let daemon = try await declared(tool)
            for spelling in [["help"], ["-h"], ["-help"], ["--help"]] {
                let run = try await runTool(tool, spelling)
                #expect(run.status == 0 && run.err.isEmpty, "\(tool) \(spelling): \(run.err)")
                for flag in flagNames(daemon.command) { #expect(run.out.contains("--\(flag)"), "\(tool) \(spelling) names --\(flag)") }
                #expect(run.out.contains("Examples:"))
            }
            for spelling in [["--version"], ["-version"]] {
                let run = try await runTool(tool, spelling)
                #expect(run.status == 0)
                #expect(run.out.hasPrefix("\(tool) \(BuildInfo.version) (commit "), "\(run.out)")
            }
        }

        let bench = try await declared("sky-bench")
        let scenarios = (bench.command.subcommands ?? []).filter { $0.shouldDisplay && $0.commandName != "help" }
        #expect(!scenarios.isEmpty)
        for spelling in rootSpellings.dropFirst() {
            let run = try await runTool("sky-bench", spelling)
            #expect(run.status == 0 && run.err.isEmpty, "sky-bench \(spelling): \(run.err)")
            for scenario in scenarios { #expect(run.out.contains(scenario.commandName), "sky-bench \(spelling) lists \(scenario.commandName)") }
        }
        for scenario in scenarios {
            for spelling in [["help", scenario.commandName], [scenario.commandName, "-help"], [scenario.commandName, "-h"]] {
                let run = try await runTool("sky-bench", spelling)
                #expect(run.status == 0 && run.err.isEmpty, "sky-bench \(spelling): \(run.err)")
                #expect(run.out.contains("Examples:"))
                for flag in flagNames(scenario) { #expect(run.out.contains("--\(flag)"), "sky-bench \(spelling) names --\(flag)") }
            }
        }
    }

    @Test("the example service and client: help in every spelling names every flag and its variable, exit 0")
    func examples() async throws {
        for (tool, flags) in [("echo-service", ServiceConfig.flagTable), ("echo-client", ClientConfig.flagTable)] {
            #expect(!flags.isEmpty)
            for spelling in [["help"], ["-h"], ["-help"], ["--help"]] {
                let run = try await runTool(tool, spelling)
                #expect(run.status == 0 && run.err.isEmpty, "\(tool) \(spelling): \(run.err)")
                #expect(run.out.hasPrefix("Usage: \(tool) [-flag=value ...]"))
                for flag in flags {
                    #expect(run.out.contains("-\(flag.name) ") && run.out.contains(flag.variable), "\(tool) \(spelling) names -\(flag.name)")
                }
            }
        }
    }

    @Test("usage errors: one line on stderr naming the problem and the help to read, nothing on stdout, exit 2", arguments: [
        ("sky", ["topology", "-regio=us"], "-regio"),
        ("sky", ["nope"], "nope"),
        ("sky", ["get"], "<path>"),
        ("sky", ["log-level", "loud"], "loud"),
        ("sky", ["status", "-timeout=-1"], "timeout"),
        ("sky", ["instances", "-coordinators", "nowhere"], "nowhere"),
        ("skynetd", ["-listen=nowhere"], "nowhere"),
        ("skynetd", ["--dev", "--log-level", "loud"], "loud"),
        ("skynetd", ["--dev", "--bogus"], "--bogus"),
        ("skynetd", ["--dev", "--http", "nowhere"], "nowhere"),
        ("skynetd", ["--dev", "--listen", "10.1.2.3:8046"], "loopback only"),
        ("skynetd", ["--data-dir", "/tmp/skynet-never", "--listen", "10.1.2.3:8046"], "--insecure"),
        ("skynetd", ["--dev", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"], "does not exist"),
        ("skynetd", ["--dev", "--tls-ca", "/nonexistent/ca.pem", "--tls-client-auth"], "does not exist"),
        ("sky", ["ls", "/", "-tls-ca", "/nonexistent/ca.pem"], "does not exist"),
        ("echo-service", ["-tls-ca", "/nonexistent/ca.pem"], "does not exist"),
        ("echo-service", ["-insecure=maybe"], "-insecure"),
        ("echo-service", ["-l", "10.1.2.3:9000"], "-insecure"),
        ("echo-service", ["-admin", "0.0.0.0:9100"], "with neither TLS nor auth"),
        ("skynet-timer", ["--http", "127.0.0.1:99999"], "99999"),
        ("skynet-timer", ["--log-level", "loud"], "loud"),
        ("sky", ["timer", "create", "-delay=0", "-uri=http://h/x"], "timeout"),
        ("sky", ["timer", "create", "-delay=5"], "-uri"),
        ("sky-bench", ["nope"], "nope"),
        ("sky-bench", ["rpc", "--rounds", "x"], "x"),
        ("echo-service", ["-regio=us"], "-regio"),
        ("echo-service", ["-l", "nowhere"], "nowhere"),
        ("echo-service", ["stray"], "stray"),
        ("echo-client", ["-timeout=0"], "-timeout"),
        ("echo-client", ["-coordinators=nowhere"], "nowhere"),
    ] as [(String, [String], String)])
    func usageErrors(tool: String, arguments: [String], named: String) async throws {
        let run = try await runTool(tool, arguments)
        #expect(run.status == 2, "\(tool) \(arguments): status \(run.status), stderr \(run.err)")
        #expect(run.out.isEmpty, "\(tool) \(arguments) printed on stdout: \(run.out)")
        let lines = run.err.split(separator: "\n")
        #expect(lines.count == 1, "\(tool) \(arguments): one line, got:\n\(run.err)")
        #expect(run.err.hasPrefix("\(tool): "))
        #expect(run.err.contains(named), "\(tool) \(arguments) names \(named): \(run.err)")
        #expect(run.err.contains("(see '\(tool)"), "\(tool) \(arguments) says where help is: \(run.err)")
    }

    @Test("sky version and sky --version say the release and the commit; -json has both")
    func version() async throws {
        for spelling in [["version"], ["--version"], ["-version"]] {
            let run = try await runTool("sky", spelling)
            #expect(run.status == 0)
            #expect(run.out == "sky \(BuildInfo.version) (commit \(BuildInfo.commit))\n", "\(run.out)")
        }
        let json = try #require(try await JSONSerialization.jsonObject(with: Data(runTool("sky", ["version", "-json"]).out.utf8)) as? [String: String])
        #expect(json == ["version": BuildInfo.version, "commit": BuildInfo.commit])
        #expect(BuildInfo.commit.range(of: #"^([0-9a-f]{7,40}(-dirty)?|unknown)$"#, options: .regularExpression) != nil, "\(BuildInfo.commit)")
    }

    @Test("shell completions for bash, zsh and fish know every command; the bash one parses")
    func completions() async throws {
        let commands = try await declared("sky").command.subcommands?.filter { $0.shouldDisplay }.map(\.commandName) ?? []
        for shell in ["bash", "zsh", "fish"] {
            let run = try await runTool("sky", ["--generate-completion-script", shell])
            #expect(run.status == 0 && run.err.isEmpty, "\(shell): \(run.err)")
            for command in commands { #expect(run.out.contains(command), "the \(shell) script completes \(command)") }
        }
        let script = temporaryPath("sky-completion") + ".bash"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try await runTool("sky", ["-generate-completion-script=bash"]).out.write(toFile: script, atomically: true, encoding: .utf8)
        let bash = Process()
        bash.executableURL = URL(fileURLWithPath: "/bin/bash")
        bash.arguments = ["-n", script]
        try bash.run()
        bash.waitUntilExit()
        #expect(bash.terminationStatus == 0, "bash -n accepts the completion script")
    }

    @Test("failures are one sentence on stderr, exit 1: an absent coordinator, a missing file, a refused compare-and-set")
    func failures() async throws {
        let down = try await runTool("sky", ["get", "/x", "-coordinators", "127.0.0.1:1", "-timeout", "1"])
        #expect(down.status == 1)
        #expect(down.err.split(separator: "\n").count == 1 && down.err.hasPrefix("sky: ") && down.err.contains("127.0.0.1:1"), "\(down.err)")
        let dir = temporaryPath("sky-failures")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        defer { daemon.stop() }
        let missing = try await runTool("sky", ["get", "/skynet/none", "-coordinators", daemon.address])
        #expect(missing.status == 1 && missing.err == "sky: /skynet/none: no such file\n", "\(missing.err)")
        #expect(try await runTool("sky", ["set", "/skynet/a", "1", "-coordinators", daemon.address]).status == 0)
        let refused = try await runTool("sky", ["set", "/skynet/a", "2", "-rev=0", "-coordinators", daemon.address])
        #expect(refused.status == 1 && refused.err.hasPrefix("sky: RevMismatch"), "\(refused.err)")
        let badPath = try await runTool("sky", ["ls", "no-slash", "-coordinators", daemon.address])
        #expect(badPath.status == 1 && badPath.err.split(separator: "\n").count == 1, "\(badPath.err)")
        let locked = try await runTool("skynetd", ["--listen", "127.0.0.1:0", "--data-dir", dir])
        #expect(locked.status == 1 && locked.err.hasPrefix("skynetd: data directory"), "\(locked.err)")
        let busy = try await runTool("skynetd", ["--listen", daemon.address, "--data-dir", dir + "-2"])
        defer { try? FileManager.default.removeItem(atPath: dir + "-2") }
        #expect(busy.status == 1 && busy.err.contains("cannot listen on \(daemon.address): address already in use"), "\(busy.err)")
        // The HTTP port taken (by the coordinator port of the daemon already running).
        let httpBusy = try await runTool("skynetd", ["--listen", "127.0.0.1:0", "--data-dir", dir + "-3", "--http", daemon.address])
        defer { try? FileManager.default.removeItem(atPath: dir + "-3") }
        #expect(httpBusy.status == 1, "\(httpBusy.err)")
        #expect(httpBusy.err.hasSuffix("skynetd: the HTTP port cannot listen on \(daemon.address): address already in use\n"), "\(httpBusy.err)")
    }
}
