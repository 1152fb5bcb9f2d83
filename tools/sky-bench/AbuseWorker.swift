import ArgumentParser
import Foundation
import MessagePack
import NIOCore
import SkynetRPC

/// `sky-bench abuse-worker`: one kind of misbehaving peer, in a process of its own, for
/// `sky-bench abuse`. Ends by itself after `--seconds`.
struct AbuseWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abuse-worker",
        abstract: "One kind of misbehaving peer for sky-bench abuse (started by it).",
        discussion: """
            Examples:
              sky-bench abuse-worker --kind floods --port 8046 --seconds 3 --count 8
            """,
        shouldDisplay: false)

    @Option(help: "glob-bombs, idle, slow-readers, bad-frames or floods.") var kind: String
    @Option(help: "The coordinator's port on 127.0.0.1.") var port: Int
    @Option(help: "How long to misbehave.") var seconds: Double
    @Option(help: "Connections (or loops) of this kind.") var count: Int

    func validate() throws {
        guard ["glob-bombs", "idle", "slow-readers", "bad-frames", "floods"].contains(kind) else {
            throw ValidationError("--kind must be glob-bombs, idle, slow-readers, bad-frames or floods; found \"\(kind)\"")
        }
    }

    func run() async throws {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let port = self.port, count = self.count
        switch kind {
        case "idle":
            let channels = try await Abusers.idle(port: port, count: count)
            try await ContinuousClock().sleep(until: end)   // held open for the phase
            for channel in channels { try? await channel.close() }
        case "slow-readers":
            var channels: [any Channel] = []
            for _ in 0..<count { channels.append(try await Abusers.slowReader(port: port)) }
            // Something for them to fall behind on: 1 KiB changes, 1,000 a second (steady
            // traffic, not a second abuser), 1 MiB/s that they never read.
            let writer = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let value = MessagePackValue.binary(Array(repeating: 7, count: 1024))
            var i = 0
            var next = ContinuousClock.now
            while next < end {
                _ = try? await writer.call("set", [.string("/abuse/stream/\(i % 100)"), value, .int(-1)])
                i += 1
                next += .milliseconds(1)
                try await ContinuousClock().sleep(until: next)
            }
            await writer.close()
            for channel in channels { try? await channel.close() }
        default:
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        switch kind {
                        case "glob-bombs": _ = try await Abusers.globBombs(port: port, until: end)
                        case "bad-frames": _ = try await Abusers.malformed(port: port, until: end)
                        default: _ = try await Abusers.flood(port: port, until: end)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
