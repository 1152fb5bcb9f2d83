import Glibc
import MessagePack
import NIOCore
import SkynetTestSupport
import Testing
@testable import SkynetRPC

@Suite("RPC server and connection on 127.0.0.1", .timeLimit(.minutes(2)))
struct RPCLiveTests {
    @Test("typed calls, optional trailing params, raw handlers, metadata")
    func calls() async throws {
        let gate = Gate()
        try await withServer(router: testRouter(gate: gate)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            #expect(try await connection.call("echo", "I'm connected!!", returning: String.self) == "I'm connected!!")
            #expect(try await connection.call("add", 2, 40, returning: Int.self) == 42)
            #expect(try await connection.call("greet", "Ada", returning: String.self) == "Ada")
            #expect(try await connection.call("greet", "Ada", "Countess", returning: String.self) == "Countess Ada")
            #expect(try await connection.call("raw", [1, "two", nil]) == [nil, "two", 1])
            let metadata = RPCCallMetadata(requestID: "r-1", timeout: .seconds(3), caller: "tests")
            #expect(try await connection.call("whoami", [], metadata: metadata) == "tests")
            #expect(try await connection.call("whoami", []) == "anonymous")
            await connection.close()
            #expect(!connection.isActive)
        }
    }

    @Test("many pipelined calls on one connection each get their own answer")
    func pipelined() async throws {
        let gate = Gate()
        try await withServer(router: testRouter(gate: gate)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let sums = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for i in 0..<500 {
                    group.addTask { (i, try await connection.call("add", i, 1000, returning: Int.self)) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(sums.count == 500)
            #expect(sums.allSatisfy { $0.value == $0.key + 1000 })
            await connection.close()
        }
    }

    @Test("a slow call does not hold up later ones: answers come out of order")
    func outOfOrder() async throws {
        let gate = Gate()
        try await withServer(router: testRouter(gate: gate)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let order = OrderLog()
            let slow = Task {
                let value = try await connection.call("hold", "slow", returning: String.self)
                await order.append(value)
            }
            await gate.waitForArrivals(1)   // the slow call is inside its handler
            let fast = try await connection.call("echo", "fast", returning: String.self)
            await order.append(fast)
            await gate.open()
            try await slow.value
            #expect(await order.entries == ["fast", "slow"])
            await connection.close()
        }
    }

    @Test("a deadline fails the call with DeadlineExceeded; the connection keeps working")
    func deadline() async throws {
        let gate = Gate()
        try await withServer(router: testRouter(gate: gate)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let error = await #expect(throws: RPCError.self) {
                try await connection.call("hold", "late", returning: String.self, timeout: .milliseconds(100))
            }
            #expect(error?.code == .deadlineExceeded)
            await gate.open()   // the late answer arrives and is dropped
            #expect(try await connection.call("echo", "still here", returning: String.self) == "still here")
            await connection.close()
        }
    }

    @Test("unknown methods, bad params and handler errors get precise codes; the connection survives")
    func errors() async throws {
        let gate = Gate()
        try await withServer(router: testRouter(gate: gate)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let unknown = await #expect(throws: RPCError.self) { try await connection.call("nope", []) }
            #expect(unknown == RPCError(.noSuchMethod, "no method named \"nope\""))
            let badType = await #expect(throws: RPCError.self) { try await connection.call("add", ["x", 1]) }
            #expect(badType == RPCError(.badRequest, "at params[0]: expected Int, found str \"x\""))
            let missing = await #expect(throws: RPCError.self) { try await connection.call("add", [1]) }
            #expect(missing == RPCError(.badRequest, "params[1]: missing Int param (got 1 params)"))
            let extra = await #expect(throws: RPCError.self) { try await connection.call("add", [1, 2, 3]) }
            #expect(extra == RPCError(.badRequest, "expected 2 params, got 3"))
            let custom = await #expect(throws: RPCError.self) { try await connection.call("fail", ["NotFound"]) }
            #expect(custom == RPCError(.notFound, "failed on purpose"))
            let internalError = await #expect(throws: RPCError.self) { try await connection.call("fail", ["internal"]) }
            #expect(internalError == RPCError(.internal, "boom"))
            #expect(try await connection.call("add", 1, 2, returning: Int.self) == 3)
            await connection.close()
        }
    }

    @Test("a request over the size limit is refused by the client before sending")
    func clientRefusesOversized() async throws {
        let gate = Gate()
        try await withServer(router: testRouter(gate: gate)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: .init(limits: .init(maxMessageSize: 1024)))
            let error = await #expect(throws: RPCError.self) {
                try await connection.call("echo", String(repeating: "x", count: 2000), returning: String.self)
            }
            #expect(error?.code == .tooLarge)
            #expect(try await connection.call("echo", "small", returning: String.self) == "small")
            await connection.close()
        }
    }

    @Test("garbage on one connection closes only that one; others keep getting answers")
    func garbageIsolation() async throws {
        let gate = Gate()
        try await withServer(router: testRouter(gate: gate)) { server, port in
            let good = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            #expect(try await good.call("echo", "before", returning: String.self) == "before")
            // Not MessagePack at all: no msgid, so no answer, just a close.
            let noise = try await exchangeRaw(port: port, bytes: [0xc1, 0xff, 0x00, 0x13, 0x37])
            #expect(noise.isEmpty)
            // A request whose msgid is readable but whose frame is too large: answered, then closed.
            var oversized: [UInt8] = [0x94, 0x00, 0xcd, 0x01, 0x00, 0xa4] + Array("echo".utf8) + [0x91, 0xc6, 0x7f, 0x00, 0x00, 0x00]
            oversized += [1, 2, 3]
            let answer = try messages(in: try await exchangeRaw(port: port, bytes: oversized))
            guard case .response(let msgid, let error, _)? = answer.first else {
                Issue.record("expected an error response, got \(answer)")
                return
            }
            #expect(msgid == 256)
            #expect(RPCError(value: error).code == .tooLarge)
            // A valid request followed by a malformed frame: the valid one is still answered.
            let valid = RPCMessage.request(msgid: 9, method: "echo", params: ["ok"]).encoded()
            let mixed = try messages(in: try await exchangeRaw(port: port, bytes: Array(valid.readableBytesView) + [0x94, 0x00, 0x0a, 0xc1]))
            #expect(mixed.contains(.success(9, "ok")))
            #expect(mixed.contains { if case .response(10, let e, _) = $0 { RPCError(value: e).code == .badRequest } else { false } })
            #expect(try await good.call("echo", "after", returning: String.self) == "after")
            #expect(server.connectionCount >= 1)
            await good.close()
        }
    }

    @Test("losing the connection fails every call in flight at once with Unavailable")
    func connectionLoss() async throws {
        let gate = Gate()
        let (server, port) = try await startServer(router: testRouter(gate: gate))
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        let calls = (0..<5).map { i in Task { try await connection.call("hold", "call \(i)", returning: String.self) } }
        await gate.waitForArrivals(5)
        await server.shutdown(gracePeriod: .zero)
        for call in calls {
            let error = await #expect(throws: RPCError.self) { try await call.value }
            #expect(error?.code == .unavailable)
        }
        await connection.waitUntilClosed()
        let after = await #expect(throws: RPCError.self) { try await connection.call("echo", ["x"]) }
        #expect(after?.code == .unavailable)
        await gate.open()
    }

    @Test("calls racing a lost connection each end: answered, or failed with Unavailable; none is left waiting")
    func callsRacingLoss() async throws {
        let gate = Gate()
        let (server, port) = try await startServer(router: testRouter(gate: gate))
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        // A call lost between the outbox and the wire would end only at its deadline
        // (DeadlineExceeded), which this counts as a failure.
        let outcomes = await withTaskGroup(of: String.self) { group in
            for i in 0..<400 {
                group.addTask {
                    do {
                        return try await connection.call("echo", "\(i)", returning: String.self) == "\(i)" ? "answered" : "wrong answer"
                    } catch let error as RPCError {
                        return error.code == .unavailable ? "unavailable" : "\(error.code)"
                    } catch {
                        return "\(error)"
                    }
                }
            }
            group.addTask {
                await server.shutdown(gracePeriod: .zero)
                return "shutdown"
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(outcomes["shutdown"] == 1)
        #expect((outcomes["answered"] ?? 0) + (outcomes["unavailable"] ?? 0) == 400, "\(outcomes)")
        await gate.open()
    }

    @Test("graceful shutdown: new calls get Unavailable, in-flight calls finish, then connections close")
    func gracefulShutdown() async throws {
        let gate = Gate()
        let (server, port) = try await startServer(router: testRouter(gate: gate))
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        let inFlight = Task { try await connection.call("hold", "finished", returning: String.self) }
        await gate.waitForArrivals(1)
        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(30)) }
        // Wait for the drain to begin: the server then answers new calls Unavailable.
        var refused: RPCError?
        for _ in 0..<100_000 {
            do { _ = try await connection.call("echo", "x", returning: String.self) } catch let error as RPCError {
                refused = error
                break
            }
        }
        // Refused unrun, either by the server or, once its go-away arrived, by the connection itself.
        #expect(refused?.code == .unavailable)
        #expect(refused?.wasNotSent == true, "a refused call is marked safe to retry: \(String(describing: refused))")
        #expect(!connection.isActive, "the server asked the connection to go away")
        await gate.open()
        #expect(try await inFlight.value == "finished")
        await connection.waitUntilClosed()
        await shutdown.value
        #expect(server.localAddress == nil)
        await #expect(throws: RPCError.self) { try await RPCConnection.connect(host: "127.0.0.1", port: port) }
    }

    @Test("notifications flow both ways")
    func notifications() async throws {
        let gate = Gate()
        let (received, continuation) = AsyncStream.makeStream(of: RPCNotification.self)
        try await withServer(router: testRouter(gate: gate, notifications: continuation)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            try await connection.notify("note", ["hello"])
            var iterator = received.makeAsyncIterator()
            #expect(await iterator.next() == RPCNotification(method: "note", params: ["hello"]))
            #expect(try await connection.call("push", 3, returning: Int.self) == 3)
            var pushed: [RPCNotification] = []
            for await note in connection.notifications {
                pushed.append(note)
                if pushed.count == 3 { break }
            }
            #expect(pushed == (0..<3).map { RPCNotification(method: "tick", params: [.int(Int64($0))]) })
            await connection.close()
        }
    }

    @Test("handlers on the global executor behave the same")
    func globalExecutor() async throws {
        let gate = Gate()
        try await withServer(router: testRouter(gate: gate), configuration: .init(handlerExecution: .globalExecutor)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<100 { group.addTask { try await connection.call("add", i, i, returning: Int.self) } }
                return try await group.reduce(0, +)
            }
            #expect(results == (0..<100).reduce(0) { $0 + 2 * $1 })
            await connection.close()
        }
    }

    @Test("connecting to a port nobody listens on names the address")
    func connectRefused() async throws {
        // A port bound but not listening: connecting is refused, and while the socket is held
        // no test running alongside can start a server on it (a port freed by a stopped
        // server could be taken again at once).
        let refusing = try RefusingPort()
        let port = refusing.port
        let error = await #expect(throws: RPCError.self) { try await RPCConnection.connect(host: "127.0.0.1", port: port) }
        #expect(error?.code == .unavailable)
        #expect(error?.message == "cannot connect to 127.0.0.1:\(port): connection refused")
        withExtendedLifetime(refusing) {}
    }

    @Test("connecting to a name that does not resolve says so in words")
    func connectUnresolvable() async throws {
        let error = await #expect(throws: RPCError.self) {
            try await RPCConnection.connect(host: "no-such-host.invalid", port: 1)
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.hasPrefix("cannot connect to no-such-host.invalid:1: ") == true)
        #expect(error?.message.contains("(") == false)
    }
}

actor OrderLog {
    private(set) var entries: [String] = []
    func append(_ entry: String) { entries.append(entry) }
}
