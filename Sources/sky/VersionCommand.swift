import ArgumentParser
import SkynetCLI

/// `sky version`: the release and the git commit this `sky` was built from.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print sky's version and the git commit it was built from.",
        discussion: """
            Examples:
              sky version
              sky version -json
            """)

    @Flag(help: "Machine-readable JSON output.") var json = false

    func run() async throws {
        if json { try Output.json(["version": BuildInfo.version, "commit": BuildInfo.commit]) } else { print("sky \(BuildInfo.description)") }
    }
}
