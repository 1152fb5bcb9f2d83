import Logging
import ServiceLifecycle
import Testing
@testable import SkynetRPC

@Suite("RPCServer lifecycle", .timeLimit(.minutes(1)))
struct RPCServerLifecycleTests {
    @Test("in a ServiceGroup it serves until graceful shutdown, then stops listening")
    func serviceGroup() async throws {
        let server = RPCServer(router: testRouter(gate: Gate()), logger: quietLogger())
        let port = try await server.start().port!
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [], logger: quietLogger())
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            #expect(try await connection.call("echo", "served", returning: String.self) == "served")
            await group.triggerGracefulShutdown()
            try await tasks.next()
            await connection.waitUntilClosed()
        }
        #expect(server.localAddress == nil)
        await #expect(throws: RPCError.self) { try await RPCConnection.connect(host: "127.0.0.1", port: port) }
    }

    @Test("shutting down a server that never started returns at once, and twice is harmless")
    func shutdownUnstarted() async throws {
        let server = RPCServer(router: RPCRouter(), logger: quietLogger())
        await server.shutdown()
        await server.shutdown()
        await #expect(throws: RPCError.self) { try await server.start() }
    }

    @Test("binding a port in use fails; once the port is free the same server starts")
    func portInUse() async throws {
        let first = RPCServer(router: RPCRouter(), logger: quietLogger())
        let port = try await first.start().port!
        let second = RPCServer(configuration: .init(port: port), router: RPCRouter(), logger: quietLogger())
        await #expect(throws: (any Error).self) { try await second.start() }
        await first.shutdown()
        let address = try await second.start()   // a failed bind leaves the server startable
        #expect(address.port == port)
        await second.shutdown()
    }

    @Test("a server whose bind failed, or that never started, can be dropped without shutdown (no leaked promise)")
    func droppedUnstarted() async throws {
        let first = RPCServer(router: RPCRouter(), logger: quietLogger())
        let port = try await first.start().port!
        do {
            let second = RPCServer(configuration: .init(port: port), router: RPCRouter(), logger: quietLogger())
            await #expect(throws: (any Error).self) { try await second.start() }
            _ = RPCServer(router: RPCRouter(), logger: quietLogger())
        }
        // In a debug build NIO stops the process at the deinit of a pending promise, so
        // reaching this line is the check; the first server still serves.
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        await #expect(throws: RPCError.self) { try await connection.call("nothing", []) }
        await connection.close()
        await first.shutdown()
    }
}
