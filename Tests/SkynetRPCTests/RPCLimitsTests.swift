import Foundation
import MessagePack
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import SkynetRPC

/// Counts handlers running at once and the most seen.
private final class Concurrency: Sendable {
    private let state = Mutex<(now: Int, most: Int, total: Int)>((0, 0, 0))
    func enter() { state.withLock { $0.now += 1; $0.most = max($0.most, $0.now); $0.total += 1 } }
    func leave() { state.withLock { $0.now -= 1 } }
    var most: Int { state.withLock { $0.most } }
    var total: Int { state.withLock { $0.total } }
}

/// Signals once, from a handler that saw its task cancelled.
private final class CancelSeen: Sendable {
    let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
}

@Suite("RPC limits: in-flight cap, connection cap, caller deadlines, going away, idle connections", .timeLimit(.minutes(1)))
struct RPCLimitsTests {
    @Test("a connection never runs more calls at once than its cap; the rest wait their turn and all are answered")
    func inFlightCap() async throws {
        let concurrency = Concurrency()
        let gate = Gate()
        var router = RPCRouter()
        router.register("work") { (n: Int) in
            concurrency.enter()
            await gate.wait()   // held until the cap is seen full
            concurrency.leave()
            return n
        }
        try await withServer(router: router, configuration: .init(maxInFlightPerConnection: 4)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<200 { group.addTask { try await connection.call("work", n, returning: Int.self) } }
                // Four calls run and hold; were the cap not kept, the others would be running too.
                await gate.waitForArrivals(4)
                await gate.open()
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(results.sorted() == Array(0..<200))
            #expect(concurrency.total == 200)
            #expect(concurrency.most == 4, "exactly the cap ran at once, saw \(concurrency.most)")
            await connection.close()
        }
    }

    @Test("one connection over the cap is answered ResourceExhausted and closed; the others go on")
    func connectionCap() async throws {
        try await withServer(router: testRouter(gate: Gate()), configuration: .init(maxConnections: 2)) { _, port in
            let first = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let second = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            #expect(try await first.call("echo", "1", returning: String.self) == "1")
            #expect(try await second.call("echo", "2", returning: String.self) == "2")
            let third = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            await #expect {
                try await third.call("echo", "3", returning: String.self)
            } throws: { error in
                (error as? RPCError)?.code == .resourceExhausted && (error as? RPCError)?.message.contains("limit of 2 connections") == true
            }
            await third.waitUntilClosed()
            #expect(try await first.call("echo", "again", returning: String.self) == "again", "the connections within the cap go on")
            await first.close()
            await second.close()
        }
    }

    @Test("a call still running at its caller's deadline is cancelled and answered DeadlineExceeded by the server")
    func callerDeadline() async throws {
        let seen = CancelSeen()
        // A stream nothing is ever sent on: waiting on it ends only when the task is cancelled.
        let (never, keepOpen) = AsyncStream.makeStream(of: Void.self)
        var router = RPCRouter()
        router.register("slow") { () async -> String in
            _ = keepOpen
            for await _ in never {}
            if Task.isCancelled { seen.continuation.yield() }
            return "too late"
        }
        try await withServer(router: router) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            // The caller says it waits 100 ms; its own timeout is far longer, so the answer is the server's.
            await #expect {
                try await connection.call("slow", [], timeout: .seconds(30), metadata: RPCCallMetadata(timeout: .milliseconds(100)))
            } throws: { error in
                (error as? RPCError)?.code == .deadlineExceeded && (error as? RPCError)?.message.contains("cancelled") == true
            }
            var cancelled = seen.stream.makeAsyncIterator()
            #expect(await cancelled.next() != nil, "the handler saw its task cancelled")
            // A deadline already gone when the call arrives: refused unrun.
            await #expect {
                try await connection.call("slow", [], timeout: .seconds(30), metadata: RPCCallMetadata(timeout: .zero))
            } throws: { error in
                (error as? RPCError)?.code == .deadlineExceeded && (error as? RPCError)?.message.contains("did not run") == true
            }
            await connection.close()
        }
    }

    @Test("a connection pipelining many requests is served a slice per turn, with the loop's reads between: another connection's call does not wait for all of them")
    func turns() async throws {
        let order = Mutex<[String]>([])
        let (allRan, ran) = AsyncStream.makeStream(of: Void.self)
        let (firstRan, first) = AsyncStream.makeStream(of: Void.self)
        let burst = 120   // about 1.5 KiB: one read
        // The burst's first call holds the server's loop until the other connection's
        // request has arrived: it is then waiting, readable, while the burst still has
        // most of its calls to go.
        let othersArrived = DispatchSemaphore(value: 0)
        let (readyRan, ready) = AsyncStream.makeStream(of: Void.self)
        var router = RPCRouter()
        router.registerRaw("ready") { _, _ in
            ready.yield()
            return .nil
        }
        router.registerRaw("tick") { params, _ in
            let (isFirst, done) = order.withLock { order in
                order.append(params.first?.stringValue ?? "?")
                return (order.count == 1, order.count == burst + 1)
            }
            if isFirst {
                first.yield()
                othersArrived.wait()
            } else {
                // A little work per call, so the burst's turns leave the other request time to
                // become readable even on a loaded machine.
                let until = ContinuousClock.now + .microseconds(20)
                while ContinuousClock.now < until {}
            }
            if done { ran.yield() }
            return .nil
        }
        // One event loop serves both connections, as a loaded server's loop would.
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = RPCServer(configuration: .init(maxRequestsPerTurn: 8), router: router, eventLoopGroup: loop, logger: quietLogger())
        let port = try await server.start().port!
        let flooder = try await sinkChannel(port: port)
        let other = try await sinkChannel(port: port)
        // The server has accepted both connections and reads them before the burst: a loaded
        // machine may connect a client long before its server accepts it, and this test is
        // about turns, not accepts.
        for channel in [flooder, other] {
            var hello = ByteBuffer()
            RPCMessage.request(msgid: 1_000, method: "ready", params: []).write(to: &hello)
            try await channel.writeAndFlush(hello)
        }
        var readyIterator = readyRan.makeAsyncIterator()
        _ = await readyIterator.next()
        _ = await readyIterator.next()
        var bytes = ByteBuffer()
        for msgid in 0..<UInt32(burst) { RPCMessage.request(msgid: msgid, method: "tick", params: ["a"]).write(to: &bytes) }
        try await flooder.writeAndFlush(bytes)
        var firstIterator = firstRan.makeAsyncIterator()
        _ = await firstIterator.next()
        var single = ByteBuffer()
        RPCMessage.request(msgid: 1, method: "tick", params: ["b"]).write(to: &single)
        try await other.writeAndFlush(single)
        othersArrived.signal()
        var iterator = allRan.makeAsyncIterator()
        _ = await iterator.next()
        let seen = order.withLock { $0 }
        #expect(seen.filter { $0 == "a" }.count == burst)
        let position = seen.firstIndex(of: "b") ?? .max
        // Served to the end of its backlog first, the burst would put b last, at `burst`.
        #expect(position < burst, "b ran after \(position) of the burst's \(burst) requests")
        try await flooder.close()
        try await other.close()
        await server.shutdown(gracePeriod: .seconds(5))
        try await loop.shutdownGracefully()
    }

    @Test("graceful shutdown tells a connection to go away before closing it")
    func goAwayOnShutdown() async throws {
        let (server, port) = try await startServer(router: testRouter(gate: Gate()))
        let received = try await rawSession(port: port, request: RPCMessage.request(msgid: 1, method: "echo", params: ["hi"])) {
            Task { await server.shutdown(gracePeriod: .seconds(30)) }
        }
        #expect(received.first == .success(1, "hi"))
        #expect(received.dropFirst().contains { if case .notification(RPCNotification.goAway, let params) = $0 { params == ["the server is shutting down"] } else { false } },
                "received: \(received)")
    }

    @Test("an idle connection is told to go away and closed after the idle timeout")
    func idleTimeout() async throws {
        // Long enough that the request reaches the server before the timer fires, even on a
        // loaded machine: a server that closes with the request unread resets the connection.
        try await withServer(router: testRouter(gate: Gate()), configuration: .init(idleTimeout: .seconds(3))) { _, port in
            let received = try await rawSession(port: port, request: RPCMessage.request(msgid: 7, method: "echo", params: ["x"])) {}
            checkIdleGoAway(received)
        }
    }
}

/// The connection was answered and told it was idle, in either order: normally the call is
/// answered and the quiet connection is then told to go; on a loaded machine the request can
/// reach the server after the idle timeout fired, and must then be refused as never run,
/// after the notice, not lost.
private func checkIdleGoAway(_ received: [RPCMessage]) {
    let goAway = received.firstIndex(where: isIdleGoAway)
    let answer = received.firstIndex { message in
        if case .response(7, _, _) = message { return true }
        return false
    }
    guard let goAway, let answer, received.count == 2 else {
        Issue.record("expected one answer and one go-away notice, received: \(received)")
        return
    }
    if answer < goAway {
        #expect(received[answer] == .success(7, "x"))
    } else if case .response(_, let error, _) = received[answer], error != .nil {
        #expect(RPCError(value: error).wasNotSent, "received: \(received)")
    } else {
        Issue.record("an answer after the go-away notice must be a refusal: \(received)")
    }
}

private func isIdleGoAway(_ message: RPCMessage) -> Bool {
    if case .notification(RPCNotification.goAway, let params) = message { return params == ["the connection was idle"] }
    return false
}

/// A raw connection that drops whatever the server sends.
private func sinkChannel(port: Int) async throws -> any Channel {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DropInbound()) }
        }
        .connect(host: "127.0.0.1", port: port).get()
}

private final class DropInbound: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// Sends `request` on a raw connection, runs `then` once its answer arrived, and returns
/// every message the server sent until it closed the connection.
private func rawSession(port: Int, request: RPCMessage, then: @Sendable () -> Void) async throws -> [RPCMessage] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        var bytes = ByteBuffer()
        request.write(to: &bytes)
        try await outbound.write(bytes)
        var received: [UInt8] = []
        var answered = false
        for try await chunk in inbound {
            received += chunk.readableBytesView
            if !answered, case .response? = try? messages(in: received).first {
                answered = true
                then()
            }
        }
        return try messages(in: received)
    }
}
