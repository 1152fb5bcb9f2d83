import Foundation
import Skynet
import SkynetRPC
import Synchronization
import Testing

/// Clients here get 30 s deadlines: these tests check what happens (nothing fails, the dead
/// instance is dropped), not how fast, and a full parallel run on two cores can be slow.
@Suite("Services as real processes: kills and coordinator outages", .serialized, .timeLimit(.minutes(3)))
struct ServiceProcessTests {
    @Test("SIGKILL of an instance: clients drop it as its connections break; its entry expires with its session")
    func killedInstance() async throws {
        let dir = temporaryPath("svc-kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let a = try await offPool { try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "a") }
        let b = try await offPool { try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "b") }
        let client = makeClient(coordinatorPort: daemon.port, timeout: .seconds(30))
        let echo = client.service(name: "echo")
        try await warmUp(echo) { $0.availableInstances.count == 2 }
        let (start, _) = try await client.coordinator.walkAtRevision(ServicePath.glob(name: "echo"))
        let deletions = client.coordinator.watch(ServicePath.glob(name: "echo"), fromRev: start + 1)

        a.stop(signal: SIGKILL)
        // Calls keep succeeding, and the pool stops using a as soon as its connection breaks.
        var calls = 0
        while echo.availableInstances != [b.address] {
            #expect(try await echo.send("echo", "after kill", returning: String.self, idempotent: true) == "after kill")
            calls += 1
            try #require(calls < 100_000, "the pool never dropped the killed instance")
        }
        for _ in 0..<200 { #expect(try await echo.send("echo", "only b", returning: String.self) == "only b") }
        // The registry entry goes when the session expires (TTL 5 s by default).
        let gone = try await collect(deletions) { events in events.contains { $0.kind == .delete } }
        #expect(gone.filter { $0.kind == .delete }.map(\.path.string) == ["/skynet/services/echo/1/us/127.0.0.1/\(a.address.split(separator: ":").last!)"])
        await client.close()
        #expect(b.stop() == 0, "SIGTERM stops the service gracefully with status 0")
        daemon.stop()
    }

    @Test("three instances under 64 concurrent callers, one SIGKILLed: no call fails")
    func killUnderLoad() async throws {
        let dir = temporaryPath("svc-load")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let instances = try await offPool { try (0..<3).map { try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "\($0)") } }
        let client = makeClient(coordinatorPort: daemon.port, timeout: .seconds(30))
        let echo = client.service(name: "echo")
        try await warmUp(echo) { $0.availableInstances.count == 3 }
        let tally = CallTally(killAt: 3_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<64 {
                group.addTask {
                    for i in 0..<150 {
                        do {
                            let reply = try await echo.send("echo", "\(caller)-\(i)", returning: String.self, idempotent: true)
                            tally.record(ok: reply == "\(caller)-\(i)")
                        } catch {
                            tally.record(ok: false, error: "\(error)")
                        }
                    }
                }
            }
            group.addTask {
                for await _ in tally.killNow { break }
                instances[1].stop(signal: SIGKILL)
            }
            try await group.waitForAll()
        }
        #expect(tally.failures == [], "calls failed at the caller")
        #expect(tally.succeeded == 64 * 150)
        #expect(!echo.availableInstances.contains(instances[1].address))
        await client.close()
        for instance in instances where instance.process.isRunning { instance.stop() }
        daemon.stop()
    }

    @Test("the coordinator killed and restarted empty: services keep serving, clients keep calling, services register again")
    func coordinatorOutage() async throws {
        let dir = temporaryPath("svc-outage")
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: dir + "-fresh") }
        var daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let port = daemon.port
        let coordinator = daemon.address
        let service = try await offPool { try EchoServiceProcess(coordinator: coordinator, logDirectory: dir, label: "svc") }
        let client = makeClient(coordinatorPort: port)
        let echo = client.service(name: "echo")
        try await warmUp(echo) { !$0.availableInstances.isEmpty }

        daemon.stop(signal: SIGKILL)
        for i in 0..<100 {
            #expect(try await echo.send("echo", "outage \(i)", returning: String.self) == "outage \(i)", "the pool keeps its last known instances")
        }
        // A coordinator that lost everything: the service's session is unknown there, so the
        // service must notice and register again.
        daemon = try await offPool { try SkynetdProcess(dataDir: dir + "-fresh", port: port) }
        let observer = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        let back = try await waitForInstances(Query(service: "echo"), observer) { $0.count == 1 }
        #expect(back.first?.serviceAddress == service.address)
        #expect(try await echo.send("echo", "after", returning: String.self) == "after")
        await observer.close()
        await client.close()
        service.stop()
        daemon.stop()
    }
}

extension ServiceProcessTests {
    @Test("SIGUSR1 and SIGUSR2 move a running service's log level one notch up and down")
    func logLevelSignals() async throws {
        let dir = temporaryPath("svc-signals")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let service = try await offPool { try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "svc") }
        let coordinator = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        let info = try #require(try await Query(service: "echo").findInstances(coordinator).first)
        let adminPort = Int(info.adminAddress.split(separator: ":").last!)!
        let admin = try await RPCConnection.connect(host: "127.0.0.1", port: adminPort)
        #expect(try await admin.call("logLevel", returning: String.self) == "info")
        /// Signals arrive asynchronously: ask (a bounded number of times) until the level changes.
        func level(after signal: Int32, expecting expected: String) async throws -> String {
            kill(service.process.processIdentifier, signal)
            var level = ""
            for _ in 0..<2_000 {
                level = try await admin.call("logLevel", returning: String.self)
                if level == expected { break }
            }
            return level
        }
        #expect(try await level(after: SIGUSR1, expecting: "debug") == "debug")
        #expect(try await level(after: SIGUSR2, expecting: "info") == "info")
        #expect(try await level(after: SIGUSR2, expecting: "notice") == "notice")
        await admin.close()
        await coordinator.close()
        #expect(service.stop() == 0)
        daemon.stop()
    }
}

/// Outcomes of the load test's calls, and the signal to kill an instance mid-run.
final class CallTally: Sendable {
    private let state = Mutex<(ok: Int, failures: [String])>((0, []))
    private let threshold: Int
    private let continuation: AsyncStream<Void>.Continuation
    let killNow: AsyncStream<Void>

    init(killAt threshold: Int) {
        self.threshold = threshold
        (killNow, continuation) = AsyncStream.makeStream(of: Void.self)
    }

    func record(ok: Bool, error: String = "wrong reply") {
        let count = state.withLock { state -> Int in
            if ok { state.ok += 1 } else { state.failures.append(error) }
            return state.ok
        }
        if count == threshold { continuation.yield() }
    }

    var succeeded: Int { state.withLock { $0.ok } }
    var failures: [String] { state.withLock { $0.failures } }
}
