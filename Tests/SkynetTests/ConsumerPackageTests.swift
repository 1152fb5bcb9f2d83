import Foundation
import Skynet
import SkynetRPC
import Testing

/// The repository's root, from this file's place in it.
func repositoryRoot() -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// Runs `swift` with `arguments`; returns its status and output (stdout and stderr together).
private func swiftTool(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["swift"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

@Suite("examples/consumer: a user's own package with the README's code, built and run", .serialized, .timeLimit(.minutes(20)))
struct ConsumerPackageTests {
    @Test("it builds against Skynet as a dependency; its service serves until SIGTERM or admin stop, its client calls it")
    func buildAndRun() async throws {
        let package = repositoryRoot().appendingPathComponent("examples/consumer").path
        // `make test` builds it first; then this is a no-op check that it is current.
        // Without manifest caching, files added to Skynet since the last build are seen.
        let build = try await offPool { try swiftTool(["build", "--package-path", package, "--disable-build-manifest-caching"]) }
        try #require(build.status == 0, "examples/consumer does not build:\n\(build.output.suffix(4000))")
        let binPath = try await offPool { try swiftTool(["build", "--package-path", package, "--show-bin-path"]) }.output.trimmingCharacters(in: .whitespacesAndNewlines)

        let dir = temporaryPath("consumer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        defer { daemon.stop() }
        let serviceArguments = ["-coordinators", daemon.address, "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"]
        let (first, line) = try await offPool { try SkynetdProcess.launch(binPath + "/EchoService", serviceArguments, stderrPath: dir + "-first.log", marker: "echo-service serving ") }
        let service = TestChildProcess(process: first)
        let address = try #require(EchoServiceProcess.servedAddress(in: line))
        #expect(line.contains("registered at /skynet/services/echo/1/us/127.0.0.1/"), "\(line)")

        let coordinatorAddress = daemon.address
        let (status, printed) = try await offPool {
            let client = Process()
            client.executableURL = URL(fileURLWithPath: binPath + "/EchoClient")
            client.arguments = ["-coordinators", coordinatorAddress]
            let out = Pipe()
            client.standardOutput = out
            try client.run()
            let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            client.waitUntilExit()
            return (client.terminationStatus, printed)
        }
        #expect(status == 0)
        #expect(printed == "echo   -> I'm connected!!\nupcase -> I'M CONNECTED!!\nsticky -> user-42\n", "\(printed)")

        let coordinator = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        #expect(try await Query(service: "echo").findInstances(coordinator).map(\.serviceAddress) == [address])
        #expect(service.stop(signal: SIGTERM) == 0, "SIGTERM ends start() and the program, with status 0")
        #expect(try await Query(service: "echo").findInstances(coordinator).isEmpty, "it closed its session on the way out")

        // An admin `stop` (what `sky stop` sends) ends start() too.
        let (second, secondLine) = try await offPool { try SkynetdProcess.launch(binPath + "/EchoService", serviceArguments, stderrPath: dir + "-second.log", marker: "echo-service serving ") }
        let other = TestChildProcess(process: second)
        let info = try #require(try await Query(service: "echo").findInstances(coordinator).first)
        #expect(secondLine.contains(info.serviceAddress))
        let admin = try #require(HostPort(info.adminAddress))
        let connection = try await RPCConnection.connect(host: admin.host, port: admin.port)
        _ = try await connection.call("stop", [])
        await connection.close()
        let otherStatus = try await offPool { () -> Int32 in
            TestChildProcess.reap(other.process)
        }
        #expect(otherStatus == 0)
        #expect(try await Query(service: "echo").findInstances(coordinator).isEmpty)
        await coordinator.close()
    }
}
