import ArgumentParser
import Foundation
import SkynetRPC

/// `sky`: look at and operate a Skynet deployment.
struct Sky: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sky",
        abstract: "Look at and operate Skynet: topology, services, instances, the config tree, the coordinator.",
        discussion: """
            Flags may be written Go-style as in the seed: -region=us, -region us and --region us are the same.
            Exit status: 0 ok, 1 the operation failed, 2 usage error.
            """,
        subcommands: [
            Topology.self, Services.self, Hosts.self, Regions.self, Instances.self, ServiceVersions.self,
            Register.self, Unregister.self, Stop.self, LogLevel.self,
            GetFile.self, SetFile.self, DelFile.self, Ls.self, Walk.self, Watch.self, Status.self,
        ])
}

@main
enum SkyMain {
    static func main() async {
        let arguments = GoStyleArguments.normalize(Array(CommandLine.arguments.dropFirst()))
        let command: any ParsableCommand
        do {
            command = try Sky.parseAsRoot(arguments)
        } catch {
            let code = Sky.exitCode(for: error)
            if code == .success {
                print(Sky.fullMessage(for: error))
                exit(0)
            }
            FileHandle.standardError.write(Data((Sky.fullMessage(for: error) + "\n").utf8))
            exit(2)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
            exit(0)
        } catch let failure as SkyFailure {
            fail(failure.description)
        } catch let error as RPCError {
            fail(error.message.isEmpty ? "\(error.code)" : "\(error.code): \(error.message)")
        } catch {
            fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("sky: \(message)\n".utf8))
        exit(1)
    }
}
