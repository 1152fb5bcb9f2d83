import Foundation
import Skynet
import Testing

/// Runs the built `sky` binary; returns its exit status, stdout and stderr. Whatever it
/// prints is checked for internal text (type names, value dumps) on the way.
func runSky(_ arguments: [String], stdin: String? = nil) async throws -> (status: Int32, out: String, err: String) {
    try await runTool("sky", arguments, stdin: stdin)
}

func json(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

@Suite("sky against a live skynetd with services in two regions", .serialized, .timeLimit(.minutes(3)))
struct SkyCLITests {
    /// skynetd plus echo services: two in us (host-a), one in eu (host-b).
    final class Deployment: Sendable {
        let dir = temporaryPath("sky")
        let daemon: SkynetdProcess
        let us1, us2, eu: EchoServiceProcess
        var coordinator: String { daemon.address }

        init() throws {
            daemon = try SkynetdProcess(dataDir: dir, extra: ["--name", "sky-test-node"])
            us1 = try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "us1", extra: ["-region", "us", "-host", "host-a"])
            us2 = try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "us2", extra: ["-region=us", "-host=host-a"])
            eu = try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "eu", extra: ["--region", "eu", "--host", "host-b"])
        }

        func sky(_ arguments: String...) async throws -> (status: Int32, out: String, err: String) {
            try await runSky(arguments + ["-coordinators", coordinator])
        }

        deinit {
            for service in [us1, us2, eu] where service.process.isRunning { service.stop() }
            daemon.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test("look commands: JSON parses with stable fields, human tables have the rows, filters narrow")
    func look() async throws {
        let d = try await offPool { try Deployment() }
        let instances = try #require(try await json(d.sky("instances", "-json").out) as? [[String: Any]])
        #expect(instances.count == 3)
        #expect(Set(instances.compactMap { $0["region"] as? String }) == ["us", "eu"])
        #expect(instances.allSatisfy { $0["address"] is String && $0["registered"] as? Bool == true && $0["name"] as? String == "echo" })
        // The figures come from each instance (its admin `stats`), not from the tree.
        #expect(instances.allSatisfy { $0["requests"] is Int && $0["cpuPercent"] is Double && $0["memoryBytes"] as? Int ?? 0 > 0 && $0["statsError"] == nil },
                "every instance answered its figures: \(instances)")
        let bare = try #require(try await json(d.sky("instances", "-no-figures", "-json").out) as? [[String: Any]])
        #expect(bare.count == 3 && bare.allSatisfy { $0["requests"] == nil }, "-no-figures reads the registry alone: \(bare)")

        let topology = try #require(try await json(d.sky("topology", "-json").out) as? [String: Any])
        let regions = try #require(topology["regions"] as? [[String: Any]])
        #expect(regions.compactMap { $0["region"] as? String } == ["eu", "us"])

        let human = try await d.sky("topology")
        #expect(human.status == 0)
        for fragment in ["eu", "us", "host-a", "host-b", "echo", "v1", d.us1.address, d.eu.address, "registered"] {
            #expect(human.out.contains(fragment), "topology lacks \(fragment):\n\(human.out)")
        }
        let services = try await d.sky("services")
        #expect(services.out.contains("SERVICE") && services.out.contains("echo") && services.out.contains("eu,us"))
        #expect(try await d.sky("regions").out.contains("us"))
        #expect(try await d.sky("hosts", "-region", "eu").out.contains("host-b"))
        #expect(!(try await d.sky("hosts", "-region", "eu").out.contains("host-a")))
        #expect(try await d.sky("versions").out.contains("echo/1"))
        let versions = try #require(try await json(d.sky("service-versions", "-json").out) as? [[String: Any]])
        #expect(versions.compactMap { $0["name"] as? String } == ["echo/1"])
        #expect(versions.first?["instances"] as? Int == 3)

        let nothing = try await d.sky("instances", "-service", "nope")
        #expect(nothing.status == 0 && nothing.out.contains("(none)"))
        #expect(try await json(d.sky("instances", "-service=nope", "-json").out) as? [Any] != nil)
        #expect((try await json(d.sky("instances", "-service=nope", "-json").out) as? [Any])?.isEmpty == true)
    }

    @Test("-region=us, -region us and --region us are the same filter, after the command or before it")
    func flagSpellings() async throws {
        let d = try await offPool { try Deployment() }
        let after = [["-region=us"], ["-region", "us"], ["--region", "us"], ["--region=us"]].map { flags in
            ["instances", "-json"] + flags + ["-coordinators", d.coordinator]
        }
        let before = [["-region=us", "-json", "-coordinators=\(d.coordinator)", "instances"],
                      ["-coordinators", d.coordinator, "-region", "us", "-json", "instances"]]
        var outputs: [(status: Int32, out: String, err: String)] = []
        for arguments in after + before { outputs.append(try await runSky(arguments)) }
        #expect(outputs.allSatisfy { $0.status == 0 })
        let addresses = try outputs.map { output in
            try #require(try json(output.out) as? [[String: Any]]).compactMap { $0["address"] as? String }.sorted()
        }
        #expect(addresses.allSatisfy { $0 == [d.us1.address, d.us2.address].sorted() }, "all spellings give the same answer: \(addresses)")
    }

    @Test("operate: unregister and register report per instance; stop stops exactly the matching process")
    func operate() async throws {
        let d = try await offPool { try Deployment() }
        let unregister = try await d.sky("unregister", "-region=eu")
        #expect(unregister.status == 0)
        #expect(unregister.out.contains(d.eu.address) && unregister.out.contains("unregistered"))
        let rows = try #require(try await json(d.sky("instances", "-json", "-registered=false").out) as? [[String: Any]])
        #expect(rows.compactMap { $0["address"] as? String } == [d.eu.address])
        #expect((rows.first?["reason"] as? String)?.hasPrefix("unregistered: ") == true, "the reason is shown: \(rows)")
        #expect(try await d.sky("instances", "-registered=false").out.contains("unregistered: "))
        #expect(try await d.sky("register", "-region=eu").status == 0)
        #expect((try await json(d.sky("instances", "-json", "-registered", "false").out) as? [Any])?.isEmpty == true)

        let stop = try await d.sky("stop", "-region", "eu", "-json")
        #expect(stop.status == 0)
        #expect((try json(stop.out) as? [[String: Any]])?.first?["ok"] as? Bool == true)
        #expect(TestChildProcess.reap(d.eu.process) == 0, "the eu instance stopped gracefully")
        #expect(d.us1.process.isRunning && d.us2.process.isRunning, "the others are untouched")

        let refused = try await runSky(["stop", "-coordinators", d.coordinator], stdin: "n\n")
        #expect(refused.status == 1 && refused.err.contains("--yes"))
        #expect(d.us1.process.isRunning && d.us2.process.isRunning)
    }

    @Test("tree commands: set, get, ls, walk, del, compare-and-set, status")
    func tree() async throws {
        let d = try await offPool { try Deployment() }
        let set = try await d.sky("set", "/config/app/greeting", "hello")
        #expect(set.status == 0 && set.out.hasPrefix("rev "))
        let rev = try #require(Int(set.out.dropFirst(4).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try await d.sky("get", "/config/app/greeting").out == "hello\n")
        let file = try #require(try await json(d.sky("get", "/config/app/greeting", "-json").out) as? [String: Any])
        #expect(file["modRev"] as? Int == rev && file["value"] as? String == "hello")
        #expect(try await d.sky("ls", "/config").out == "app\n")
        #expect(try await d.sky("walk", "/config/**").out.contains("/config/app/greeting = hello"))
        let stale = try await d.sky("set", "/config/app/greeting", "x", "-rev", "\(rev + 100)")
        #expect(stale.status == 1 && stale.err.contains("RevMismatch"), "\(stale.err)")
        #expect(try await d.sky("del", "/config/app/greeting", "--rev=\(rev)").status == 0)
        let missing = try await d.sky("get", "/config/app/greeting")
        #expect(missing.status == 1 && missing.err.contains("no such file"))
        let status = try #require(try await json(d.sky("status", "-json").out) as? [String: Any])
        // One node: the membership is the node itself, under the name it was started with.
        #expect(status["name"] as? String == "sky-test-node")
        #expect(status["members"] as? [String] == ["sky-test-node"] && status["leader"] as? String == "sky-test-node")
        #expect((status["sessions"] as? Int ?? 0) >= 3)
    }

    @Test("bad flags exit 2 with a message; a coordinator that is down exits 1 naming the addresses tried")
    func errors() async throws {
        for arguments in [["topology", "--bogus"], ["log-level", "loud"], ["instances", "-timeout", "-1"], ["frobnicate"],
                          ["watch", "/x", "-rev=-4"], ["get", "/x", "-rev", "0"], ["set", "/x", "v", "-rev=-1"], ["del", "/x", "-rev=0"]] {
            let result = try await runSky(arguments)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.err)")
            #expect(result.err.split(separator: "\n").count == 1, "\(arguments): \(result.err)")
        }
        let down = try await runSky(["status", "-coordinators", "127.0.0.1:1,127.0.0.1:2", "-timeout", "0.5"])
        #expect(down.status == 1)
        #expect(down.err.contains("127.0.0.1:1") && down.err.contains("127.0.0.1:2"), "\(down.err)")
        #expect(down.err.split(separator: "\n").count == 1, "one clear line")
        #expect(down.err.contains("connection refused"), "\(down.err)")
    }
}

@Suite("sky watch", .timeLimit(.minutes(1)))
struct SkyWatchTests {
    @Test("streams changes as they happen, one JSON line each")
    func streams() async throws {
        let dir = temporaryPath("sky-watch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let client = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        let start = try await client.set("/w/start", "0")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SkynetdProcess.builtBinary("sky"))
        process.arguments = ["watch", "/w/**", "-json", "-rev", "\(start)", "-coordinators", daemon.address]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        for i in 1...3 { try await client.set("/w/k\(i)", "v\(i)") }
        try await client.del("/w/k2")
        // Read until the fifth event line (start, three puts, one delete) has arrived.
        let reader = out.fileHandleForReading
        let text = try await offPool {
            var text = ""
            for _ in 0..<1_000 where text.split(separator: "\n").count < 5 {
                let chunk = reader.availableData
                guard !chunk.isEmpty else { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let events = try text.split(separator: "\n").map { try #require(try json(String($0)) as? [String: Any]) }
        #expect(events.compactMap { $0["path"] as? String } == ["/w/start", "/w/k1", "/w/k2", "/w/k3", "/w/k2"])
        #expect(events.compactMap { $0["kind"] as? String } == ["put", "put", "put", "put", "delete"])
        #expect(events.compactMap { $0["rev"] as? Int } == Array(Int(start)...Int(start) + 4))
        await client.close()
        daemon.stop()
    }
}
