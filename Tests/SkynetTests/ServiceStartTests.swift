import Foundation
import Logging
import ServiceLifecycle
import Skynet
import SkynetCoordinator
import SkynetRPC
import Synchronization
import Testing

/// A configuration on free ports against the coordinator at `coordinatorPort`.
private func config(coordinatorPort: Int, ttl: Duration = .seconds(5)) throws -> ServiceConfig {
    try ServiceConfig(
        name: "echo", version: "1", region: "us", host: "127.0.0.1", serviceAddress: "127.0.0.1:0", adminAddress: "127.0.0.1:0",
        coordinators: ["127.0.0.1:\(coordinatorPort)"], sessionTTL: ttl, logger: quietLogger())
}

/// A port nothing listens on now: bound, read, released.
private func freePort() async throws -> Int {
    let probe = RPCServer(configuration: .init(host: "127.0.0.1", port: 0), router: RPCRouter(), logger: quietLogger())
    let port = try await probe.start().port!
    await probe.shutdown()
    return port
}

/// An echo service that tells when it listens (bound, not yet registered).
private struct ListeningEcho: ServiceProtocol {
    let listening: AsyncStream<Void>.Continuation

    func registerMethods(_ router: inout RPCRouter) {
        router.register("echo") { (text: String) in text }
    }

    func started(_ service: Skynet.Service) async { listening.yield() }
}

@Suite("Service.start: the whole program of a service", .serialized, .timeLimit(.minutes(2)))
struct ServiceStartTests {
    @Test("start serves until stopped, hands onServing the record first, and returns once it has stopped")
    func startServesUntilStopped() async throws {
        try await withCoordinator { server, coordinator in
            let service = Skynet.Service(config: try config(coordinatorPort: server.localAddress!.port!), delegate: LabeledEcho(label: "s"))
            let (served, continuation) = AsyncStream.makeStream(of: ServiceInfo.self)
            let running = Task { try await service.start(onServing: { continuation.yield($0) }) }
            var iterator = served.makeAsyncIterator()
            let info = try #require(await iterator.next())
            #expect(info.registered && info.path != nil)
            #expect(try await Query(service: "echo").findInstances(coordinator).map(\.serviceAddress) == [info.serviceAddress])

            let client = makeClient(coordinatorPort: server.localAddress!.port!)
            #expect(try await client.service(name: "echo").send("whoami", returning: String.self) == "s")
            await client.close()

            // What an admin `stop` (sky stop) does: start returns, the registration is gone.
            let admin = try #require(HostPort(info.adminAddress))
            let connection = try await RPCConnection.connect(host: admin.host, port: admin.port)
            _ = try await connection.call("stop", [])
            await connection.close()
            try await running.value
            #expect(try await Query(service: "echo").findInstances(coordinator).isEmpty)
            await #expect(throws: (any Error).self, "its port is closed") {
                let target = try #require(HostPort(info.serviceAddress))
                _ = try await RPCConnection.connect(host: target.host, port: target.port)
            }
        }
    }

    @Test("start with no coordinator yet waits for one, then registers; onServing comes after the coordinator")
    func startWaitsForTheCoordinator() async throws {
        let port = try await freePort()
        let (listening, listened) = AsyncStream.makeStream(of: Void.self)
        let service = Skynet.Service(config: try config(coordinatorPort: port), delegate: ListeningEcho(listening: listened))
        let coordinatorUp = Atomic<Bool>(false)
        let (served, continuation) = AsyncStream.makeStream(of: (ServiceInfo, Bool).self)
        let running = Task { try await service.start(onServing: { continuation.yield(($0, coordinatorUp.load(ordering: .sequentiallyConsistent))) }) }
        // Bound and trying to register, with no coordinator to register with.
        var listens = listening.makeAsyncIterator()
        _ = await listens.next()

        let dir = temporaryPath("late-coordinator")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try CoordinatorNode.open(configuration: .init(name: "late", dataDirectory: dir), logger: quietLogger())
        let server = CoordinatorServer(node: node, host: "127.0.0.1", port: port, logger: quietLogger())
        coordinatorUp.store(true, ordering: .sequentiallyConsistent)
        try await server.start()

        var iterator = served.makeAsyncIterator()
        let (info, upFirst) = try #require(await iterator.next())
        #expect(upFirst, "onServing ran only after the coordinator was there")
        let coordinator = CoordinatorClient(configuration: .init(addresses: ["127.0.0.1:\(port)"], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        #expect(try await Query(service: "echo").findInstances(coordinator).map(\.serviceAddress) == [info.serviceAddress])
        await service.stop()
        try await running.value
        #expect(try await Query(service: "echo").findInstances(coordinator).isEmpty)
        await coordinator.close()
        await server.shutdown()
    }

    @Test("in a ServiceGroup of your own, a graceful shutdown while it waits for the coordinator ends run without error")
    func shutdownWhileWaiting() async throws {
        let (listening, listened) = AsyncStream.makeStream(of: Void.self)
        let service = Skynet.Service(config: try config(coordinatorPort: try await freePort()), delegate: ListeningEcho(listening: listened))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: service)], logger: quietLogger()))
        let running = Task { try await group.run() }
        var listens = listening.makeAsyncIterator()
        _ = await listens.next()
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(service.info == nil, "nothing was left registered or bound")
    }
}
