import Foundation
import MessagePack
import Skynet
import SkynetRPC
import Testing

@Suite("Services and the client pool (in-process, real TCP)", .timeLimit(.minutes(2)))
struct ServiceTests {
    @Test("registration is visible through Query; unregister and register flip it; a graceful stop removes it at once")
    func registration() async throws {
        try await withCoordinator { server, coordinator in
            let port = server.localAddress!.port!
            let a = try await startService("a", region: "us", coordinatorPort: port)
            let b = try await startService("b", name: "other", region: "eu", coordinatorPort: port)
            let all = try await Query().findInstances(coordinator)
            #expect(all.map(\.name).sorted() == ["echo", "other"])
            #expect(try await Query(service: "echo").findInstances(coordinator).map(\.serviceAddress) == [a.info!.serviceAddress])
            #expect(try await Query().findRegions(coordinator) == ["eu", "us"])
            #expect(try await Query(region: "eu").findServices(coordinator) == ["other"])
            #expect(try await Query(service: "echo").serviceVersions(coordinator) == ["1"])
            #expect(try await Query().findHosts(coordinator) == ["127.0.0.1"])
            #expect(try await coordinator.walk("/skynet/stats/**").isEmpty, "live figures stay out of the tree")
            let figures = a.statsSnapshot()
            #expect(figures.memoryBytes > 0 && figures.cpuSeconds > 0 && figures.outOfRotation == nil, "load figures are real: \(figures)")

            try await a.unregister()
            #expect(try await Query(service: "echo", registered: true).findInstances(coordinator).isEmpty)
            let out = try await Query(service: "echo", registered: false).findInstances(coordinator)
            #expect(out.count == 1 && out.first?.outOfRotation?.cause == .unregistered, "the record says why: \(out)")
            try await a.register()
            let back = try await Query(service: "echo", registered: true).findInstances(coordinator)
            #expect(back.count == 1 && back.first?.outOfRotation == nil)

            await a.stop()
            #expect(try await Query(service: "echo").findInstances(coordinator).isEmpty, "gone as soon as stop returns")
            await b.stop()
        }
    }

    @Test("calls reach registered instances only; unregistered ones get no new calls")
    func routing() async throws {
        try await withCoordinator { server, coordinator in
            let port = server.localAddress!.port!
            let a = try await startService("a", coordinatorPort: port)
            let b = try await startService("b", coordinatorPort: port)
            let client = makeClient(coordinatorPort: port)
            let echo = client.service(name: "echo")
            #expect(try await echo.send("echo", "I'm connected!!", returning: String.self) == "I'm connected!!")
            var seen: Set<String> = []
            for _ in 0..<200 { seen.insert(try await echo.send("whoami", returning: String.self)) }
            #expect(seen == ["a", "b"], "both instances take calls")

            try await b.unregister()
            _ = try await waitForInstances(Query(service: "echo", registered: true), coordinator) { $0.count == 1 }
            // The pool learns of the change through its own watch; once b is out, every call goes to a.
            var tail: [String] = []
            for _ in 0..<400 { tail.append(try await echo.send("whoami", returning: String.self)) }
            #expect(tail.suffix(100).allSatisfy { $0 == "a" }, "an unregistered instance gets no new calls")
            #expect(echo.availableInstances == [a.info!.serviceAddress])
            await client.close()
            await a.stop()
            await b.stop()
        }
    }

    @Test("no matching instance: send fails with NoInstances once its deadline passes")
    func noInstances() async throws {
        try await withCoordinator { server, _ in
            let client = makeClient(coordinatorPort: server.localAddress!.port!)
            do {
                _ = try await client.service(name: "nobody").send("echo", "x", returning: String.self, timeout: .milliseconds(300))
                Issue.record("a call to no instance succeeded")
            } catch let error as RPCError {
                #expect(error.code.rawValue == "NoInstances")
                #expect(error.message.contains("/skynet/services/nobody"))
            }
            await client.close()
        }
    }

    @Test("a new instance starts getting calls once registered")
    func newInstanceGetsCalls() async throws {
        try await withCoordinator { server, _ in
            let port = server.localAddress!.port!
            let a = try await startService("a", coordinatorPort: port)
            let client = makeClient(coordinatorPort: port)
            let echo = client.service(name: "echo")
            #expect(try await echo.send("whoami", returning: String.self) == "a")
            let b = try await startService("b", coordinatorPort: port)
            var reachedB = false
            for _ in 0..<20_000 where !reachedB {
                reachedB = try await echo.send("whoami", returning: String.self) == "b"
            }
            #expect(reachedB)
            await client.close()
            await a.stop()
            await b.stop()
        }
    }

    @Test("key affinity: a key sticks to one instance; adding one of four moves about a quarter of the keys, and isMine agrees")
    func keyAffinity() async throws {
        try await withCoordinator { server, coordinator in
            let port = server.localAddress!.port!
            var services = [try await startService("a", coordinatorPort: port), try await startService("b", coordinatorPort: port), try await startService("c", coordinatorPort: port)]
            let client = makeClient(coordinatorPort: port)
            let echo = client.service(name: "echo")
            _ = try await waitForInstances(Query(service: "echo", registered: true), coordinator) { $0.count == 3 }
            let keys = (0..<300).map { "key-\($0)" }
            func owners() async throws -> [String: String] {
                var map: [String: String] = [:]
                for key in keys { map[key] = try await echo.send("whoami", returning: String.self, key: key) }
                return map
            }
            // Wait until the pool has all three connected, then read the placement twice.
            try await warmUp(echo) { $0.availableInstances.count == 3 }
            let before = try await owners()
            #expect(try await owners() == before, "the same key reaches the same instance")
            #expect(Set(before.values) == ["a", "b", "c"])
            let dDelegate = LabeledEcho(label: "d")
            services.append(try await startService("d", coordinatorPort: port, delegate: dDelegate))
            _ = try await waitForInstances(Query(service: "echo", registered: true), coordinator) { $0.count == 4 }
            try await warmUp(echo) { $0.availableInstances.count == 4 }
            let after = try await owners()
            let moved = keys.filter { before[$0] != after[$0] }
            #expect(moved.allSatisfy { after[$0] == "d" }, "keys only move to the new instance")
            #expect((30...120).contains(moved.count), "about 1/4 of 300 keys move: \(moved.count)")
            // The services agree with the client on who owns what (once they have seen all four).
            let d = services[3]
            for _ in 0..<1_000 where !keys.contains(where: { d.isMine($0) }) { _ = try await echo.send("echo", "tick", returning: String.self) }
            #expect(keys.filter { d.isMine($0) } == moved)
            // d was told which ranges came to it; every moved key lies in one of them.
            let gained = dDelegate.moves.all.filter { $0.to == d.info?.serviceAddress }
            #expect(!gained.isEmpty)
            #expect(moved.allSatisfy { key in gained.contains { $0.range.contains(HashRing.hash(key)) } })
            await client.close()
            for service in services { await service.stop() }
        }
    }

    @Test("the same criteria give the same pool until it is closed; withClient closes what it made")
    func samePool() async throws {
        try await withCoordinator { server, _ in
            let port = server.localAddress!.port!
            let service = try await startService("a", coordinatorPort: port)
            var config = ClientConfig(coordinators: ["127.0.0.1:\(port)"], timeout: testCoordinatorTimeout)
            config.coordinatorTimeout = testCoordinatorTimeout
            let (first, kept) = try await Client.withClient(config: config, logger: quietLogger()) { (client: Client) async throws -> (ServiceClient, ServiceClient) in
                let first = client.service(name: "echo")
                #expect(client.service(name: "echo") === first, "one watch and one set of connections per criteria")
                #expect(client.service(name: "echo", region: "local") !== first, "other criteria, another pool")
                #expect(try await first.send("whoami", returning: String.self) == "a")
                await first.close()
                let again = client.service(name: "echo")
                #expect(again !== first && !again.isClosed, "a closed pool is replaced")
                #expect(try await again.send("whoami", returning: String.self) == "a")
                return (first, again)
            }
            #expect(first.isClosed && kept.isClosed, "withClient closed every pool it made")
            await service.stop()
        }
    }

    @Test("an exhausted port range is an error naming the range, from start and from bind")
    func portRangeExhausted() async throws {
        try await withCoordinator { server, _ in
            let port = server.localAddress!.port!
            let taken = try await startService("a", coordinatorPort: port)
            let used = taken.info!.port!
            let config = try ServiceConfig(name: "echo", serviceAddress: "127.0.0.1:\(used)-\(used)", coordinators: ["127.0.0.1:\(port)"], logger: quietLogger())
            let second = Service(config: config, delegate: LabeledEcho(label: "b"))
            for attempt in 1...2 {
                do {
                    if attempt == 1 { try await second.start() } else { try await second.bind() }
                    Issue.record("a second service bound a taken port")
                } catch let error as ServiceConfigError {
                    #expect(error.field == "serviceAddress", "attempt \(attempt)")
                    #expect(error.message.contains("no free port in 127.0.0.1:\(used)"), "attempt \(attempt): a failed start can be tried again")
                }
            }
            await taken.stop()
        }
    }

    @Test("admin RPC: info, stats, logLevel, unregister, register, stop")
    func admin() async throws {
        try await withCoordinator { server, coordinator in
            let service = try await startService("a", coordinatorPort: server.localAddress!.port!)
            let adminPort = Int(service.info!.adminAddress.split(separator: ":").last!)!
            let admin = try await RPCConnection.connect(host: "127.0.0.1", port: adminPort)
            let info = try await admin.call("info", returning: ServiceInfo.self)
            #expect(info.uuid == service.info?.uuid && info.serviceAddress == service.info?.serviceAddress && info.registered)
            #expect(try await admin.call("logLevel", "debug", returning: String.self) == "debug")
            do {
                _ = try await admin.call("logLevel", "loud", returning: String.self)
                Issue.record("a bad log level was accepted")
            } catch let error as RPCError {
                #expect(error.code == .badRequest)
            }
            _ = try await admin.call("unregister", returning: Bool.self)
            #expect(try await Query(service: "echo", registered: false).findInstances(coordinator).count == 1)
            _ = try await admin.call("register", returning: Bool.self)
            #expect(try await Query(service: "echo", registered: true).findInstances(coordinator).count == 1)
            let direct = try await RPCConnection.connect(host: "127.0.0.1", port: service.info!.port!)
            for _ in 0..<3 { _ = try await direct.call("echo", "x", returning: String.self) }
            _ = try? await direct.call("nosuch", returning: String.self)
            await direct.close()
            let stats = try await admin.call("stats", returning: ServiceStatsSnapshot.self)
            #expect(stats.requests == 3 && stats.errors == 0 && stats.inFlight == 0, "calls are counted: \(stats)")
            #expect(try await admin.call("stop", returning: Bool.self))
            await service.waitUntilStopped()
            #expect(try await Query(service: "echo").findInstances(coordinator).isEmpty)
            await admin.close()
        }
    }
}

@Suite("Graceful stop under load", .timeLimit(.minutes(1)))
struct GracefulStopTests {
    @Test("stopping an instance under load fails no call, even calls not marked idempotent")
    func stopUnderLoad() async throws {
        try await withCoordinator { server, _ in
            let port = server.localAddress!.port!
            let a = try await startService("a", coordinatorPort: port)
            let b = try await startService("b", coordinatorPort: port)
            let client = makeClient(coordinatorPort: port)
            let echo = client.service(name: "echo")
            try await warmUp(echo) { $0.availableInstances.count == 2 }
            let tally = CallTally(killAt: 2_000)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<16 {
                    group.addTask {
                        for i in 0..<400 {
                            do {
                                tally.record(ok: try await echo.send("echo", "\(caller)-\(i)", returning: String.self) == "\(caller)-\(i)")
                            } catch {
                                tally.record(ok: false, error: "\(error)")
                            }
                        }
                    }
                }
                group.addTask {
                    for await _ in tally.killNow { break }
                    await b.stop()
                }
                try await group.waitForAll()
            }
            #expect(tally.failures == [])
            #expect(tally.succeeded == 16 * 400)
            #expect(echo.availableInstances == [a.info!.serviceAddress])
            await client.close()
            await a.stop()
        }
    }
}
