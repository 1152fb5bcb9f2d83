import Foundation
import MessagePack
import Synchronization
import Testing
@testable import SkynetRPC

/// Replies a handler parked for the test to give later, with a stream saying each arrival.
final class ParkedReplies: Sendable {
    private let parked = Mutex<[(RPCReply, MessagePackValue)]>([])
    let arrivals: AsyncStream<Int>
    private let arrived: AsyncStream<Int>.Continuation

    init() {
        (arrivals, arrived) = AsyncStream.makeStream(of: Int.self)
    }

    func park(_ reply: RPCReply, _ value: MessagePackValue) {
        let count = parked.withLock { parked in
            parked.append((reply, value))
            return parked.count
        }
        arrived.yield(count)
    }

    /// Waits until `count` replies are parked.
    func waitFor(_ count: Int) async {
        for await parked in arrivals where parked >= count { return }
    }

    func takeAll() -> [(RPCReply, MessagePackValue)] {
        parked.withLock { parked in
            defer { parked.removeAll() }
            return parked
        }
    }
}

@Suite("Replying handlers: answers without a task, from any thread", .timeLimit(.minutes(2)))
struct RPCReplyTests {
    static func router(_ parked: ParkedReplies) -> RPCRouter {
        var router = RPCRouter()
        router.registerReplying("now") { params, _, reply in
            guard let first = params.first else {
                reply(.failure(RPCError(.badRequest, "now: one param")))
                return
            }
            reply(.success(first))
        }
        router.registerReplying("later") { params, _, reply in parked.park(reply, params.first ?? .nil) }
        router.registerReplying("twice") { _, _, reply in
            reply(.success("first"))
            reply(.success("second"))
        }
        router.register("echo") { (text: String) in text }
        return router
    }

    @Test("an answer given at once, success or error, reaches its caller")
    func atOnce() async throws {
        try await withServer(router: Self.router(ParkedReplies())) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            #expect(try await connection.call("now", [MessagePackValue.string("hello")]) == MessagePackValue.string("hello"))
            let error = await #expect(throws: RPCError.self) { try await connection.call("now", []) }
            #expect(error == RPCError(.badRequest, "now: one param"))
            await connection.close()
        }
    }

    /// Makes `calls` calls of `later` over `connectionCount` connections, hands the parked
    /// replies to `answer` (which answers them however the test means to), then checks that
    /// each caller got its own answer.
    private func answerParked(connections connectionCount: Int, calls: Int, _ answer: @escaping ([(RPCReply, MessagePackValue)]) async -> Void) async throws {
        let parked = ParkedReplies()
        try await withServer(router: Self.router(parked)) { _, port in
            var connections: [RPCConnection] = []
            for _ in 0..<connectionCount { connections.append(try await RPCConnection.connect(host: "127.0.0.1", port: port)) }
            try await withThrowingTaskGroup(of: (Int, MessagePackValue).self) { group in
                for i in 0..<calls {
                    let connection = connections[i % connections.count]
                    group.addTask { (i, try await connection.call("later", [.int(Int64(i))])) }
                }
                await parked.waitFor(calls)
                let replies = parked.takeAll()
                #expect(replies.count == calls)
                await answer(replies)
                var answers: [Int: MessagePackValue] = [:]
                for try await (i, answer) in group { answers[i] = answer }
                #expect(answers.count == calls)
                #expect(answers.allSatisfy { $0.value == .int(Int64($0.key)) })
            }
            for connection in connections { await connection.close() }
        }
    }

    @Test("answers given together from another thread each reach their own caller, on every connection")
    func batchFromAnotherThread() async throws {
        try await answerParked(connections: 4, calls: 200) { replies in
            // One batch, answered from a thread that is no event loop's.
            Thread { for (reply, value) in replies { reply(.success(value)) } }.start()
        }
    }

    @Test("answers given inside `batching` off the loop are held until the outermost one returns, then each reaches its caller")
    func batching() async throws {
        try await answerParked(connections: 3, calls: 60) { replies in
            // Answers held on the thread: after the inner batch, then after the outer one.
            let held: [Int] = await withCheckedContinuation { continuation in
                Thread {
                    var held: [Int] = []
                    RPCReply.batching {
                        for (reply, value) in replies.prefix(30) { reply(.success(value)) }
                        RPCReply.batching {
                            for (reply, value) in replies.dropFirst(30) { reply(.success(value)) }
                        }
                        held.append(RPCReplyBatch.open?.heldCount ?? 0)
                    }
                    held.append(RPCReplyBatch.open?.heldCount ?? 0)
                    continuation.resume(returning: held)
                }.start()
            }
            #expect(held == [60, 0])
        }
    }

    @Test("when the caller's deadline passes first it gets DeadlineExceeded; the late answer is dropped")
    func deadline() async throws {
        let parked = ParkedReplies()
        try await withServer(router: Self.router(parked)) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            let error = await #expect(throws: RPCError.self) {
                try await connection.call("later", ["late"], timeout: .milliseconds(100))
            }
            #expect(error?.code == .deadlineExceeded)
            await parked.waitFor(1)
            for (reply, value) in parked.takeAll() { reply(.success(value)) }
            #expect(try await connection.call("echo", "still here", returning: String.self) == "still here")
            await connection.close()
        }
    }

    @Test("answering twice sends the first answer only; the next call gets its own")
    func twice() async throws {
        try await withServer(router: Self.router(ParkedReplies())) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
            #expect(try await connection.call("twice", []) == MessagePackValue.string("first"))
            #expect(try await connection.call("now", [MessagePackValue.string("next")]) == MessagePackValue.string("next"))
            await connection.close()
        }
    }

    @Test("replying methods are listed; registering a name again replaces it, of either kind")
    func table() {
        var router = Self.router(ParkedReplies())
        #expect(router.methodNames == ["echo", "later", "now", "twice"])
        router.registerRaw("now") { params, _ in .array(params) }
        #expect(router.methods["now"] != nil && router.replying["now"] == nil)
        router.registerReplying("echo") { _, _, reply in reply(.success(.nil)) }
        #expect(router.methods["echo"] == nil && router.replying["echo"] != nil)
        #expect(router.methodNames == ["echo", "later", "now", "twice"])
    }
}
