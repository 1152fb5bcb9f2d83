import ArgumentParser
import SkynetCLI

/// `sky`: look at and operate a Skynet deployment.
struct Sky: AsyncParsableCommand {
    /// The commands by section, in the order help lists them.
    static let sections: [(title: String, commands: [any ParsableCommand.Type])] = [
        ("Look at the topology", [Topology.self, Services.self, Hosts.self, Regions.self, Instances.self, ServiceVersions.self]),
        ("Operate instances", [Register.self, Unregister.self, Stop.self, LogLevel.self]),
        ("The config tree", [GetFile.self, SetFile.self, DelFile.self, Ls.self, Walk.self, Watch.self]),
        ("The coordinator", [Status.self, Members.self]),
        ("Timers", [TimerCommand.self]),
        ("Security", [TLSCommand.self, AuthCommand.self]),
        ("This tool", [VersionCommand.self]),
    ]

    static let configuration = CommandConfiguration(
        commandName: "sky",
        abstract: "Look at and operate Skynet: topology, services, instances, the config tree, the coordinator.",
        usage: "sky [-flag=value ...] <command> [<arguments>]",
        discussion: """
            Flags may be written Go-style as in the seed: -region=us, -region us and --region us are the same.
            Exit status: 0 ok, 1 the operation failed, 2 usage error.
            """,
        subcommands: sections.flatMap(\.commands))

    /// The overview `sky`, `sky help`, `sky -h`, `sky -help` and `sky --help` print: every
    /// command with its description and flags, read from the command definitions.
    static func overview() -> String {
        let shared = Set(["coordinators", "json", "timeout", "tls-ca", "tls-cert", "tls-key", "token"])
        let commands: String
        do {
            commands = try CommandIndex(Sky.self, shared: shared)
                .render(sections: sections.map { ($0.title, $0.commands.map { $0._commandName }) })
        } catch {
            commands = "\n" + Sky.helpMessage()
        }
        return """
            sky: look at and operate Skynet — topology, services, instances, the config tree, the coordinator.

            Usage: sky [-flag=value ...] <command> [<arguments>]
                   sky help <command>          a command's flags, with examples
            \(commands)
            Every command also takes:
              -coordinators=HOST:PORT,...   the coordinators (default: $SKYNET_COORDINATORS, else 127.0.0.1:8046)
              -json                         machine-readable output with stable field names
              -timeout=SECONDS              how long to wait for the coordinator and each instance (default 3)
              -tls-ca=FILE                  talk TLS, trusting this CA (default: $SKYNET_TLS_CA)
              -tls-cert=FILE -tls-key=FILE  the certificate to show servers that require one
              -token=TOKEN|@FILE            the token for a coordinator with auth on (default: $SKYNET_TOKEN)

            Flags are Go-style as in the seed: -region=us, -region us and --region us are the same.
            Exit status: 0 ok, 1 the operation failed, 2 usage error.
            Shell completions: sky --generate-completion-script bash|zsh|fish (see the README).

            Examples:
              sky topology -region=us
              sky stop -service=echo -host=host-a
              sky watch '/skynet/services/**'
              sky timer create -delay=5000 -uri=http://127.0.0.1:8080/hook
              sky tls ca -dir=tls && sky tls cert -dir=tls -name=skynetd
              sky auth token create -name=deploy -role=deployer -token=@root.token
            """
    }
}

@main
enum SkyMain {
    static func main() async {
        await CommandLineTool.main(Sky.self, rootHelp: Sky.overview)
    }
}
