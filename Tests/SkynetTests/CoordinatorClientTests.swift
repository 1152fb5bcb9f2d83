import MessagePack
import Skynet
import SkynetCoordinator
import SkynetRPC
import SkynetTestSupport
import Testing

@Suite("Coordinator over the wire (in-process server, real TCP)", .timeLimit(.minutes(2)))
struct CoordinatorClientTests {
    @Test("a call waiting for an absent coordinator ends at once when its task is cancelled, before or during the wait")
    func cancelWhileWaiting() async throws {
        // A call timeout far beyond the suite's time limit: only cancellation can end these calls.
        let client = CoordinatorClient(configuration: .init(addresses: ["127.0.0.1:1"], callTimeout: .seconds(3600)), logger: quietLogger())
        for yields in [0, 10, 1_000] {
            let call = Task { try await client.get("/skynet/x") }
            for _ in 0..<yields { await Task.yield() }
            call.cancel()
            await #expect(throws: CancellationError.self, "cancelled after \(yields) yields") { try await call.value }
        }
        await client.close()
    }

    @Test("idle watches of one connection share one progress notification per tick; the client hands each its update")
    func sharedProgress() async throws {
        try await withCoordinator({ $0.progressInterval = .milliseconds(100) }) { server, client in
            let raw = try await RPCConnection.connect(host: "127.0.0.1", port: server.localAddress!.port!)
            for wire in UInt64(1)...3 { _ = try await raw.call("watch", [.uint(wire), .string("/idle\(wire)/**"), .int(0)]) }
            var lists: [[UInt64]] = []
            for await notification in raw.notifications where notification.method == "progress" {
                lists.append(notification.params.first?.arrayValue?.compactMap(\.uint64Value) ?? [])
                if lists.last?.count == 3 { break }
            }
            #expect(lists.last.map(Set.init) == [1, 2, 3], "one notification names the three idle watches: \(lists)")
            await raw.close()
            var watch = client.watch("/idle/**", fromRev: 0).makeAsyncIterator()
            let update = try await watch.next()
            #expect(update?.isProgress == true, "a progress update reaches the client's watch")
        }
    }

    @Test("limits: watches per connection and writes waiting for the log are refused ResourceExhausted, naming the limit")
    func limits() async throws {
        try await withCoordinator({ $0.maxWatchesPerConnection = 2 }) { _, client in
            // From a known revision, so the writes below reach the watches however late they subscribe.
            let base = try await client.set("/base", "0")
            var first = client.watch("/a/**", fromRev: base + 1).makeAsyncIterator()
            var second = client.watch("/b/**", fromRev: base + 1).makeAsyncIterator()
            try await client.set("/a/x", "1")
            try await client.set("/b/x", "1")
            // Progress updates (no events) may come first on a busy machine.
            var firstEvent: String?, secondEvent: String?
            while firstEvent == nil, let update = try await first.next() { firstEvent = update.events.first?.path.string }
            while secondEvent == nil, let update = try await second.next() { secondEvent = update.events.first?.path.string }
            #expect(firstEvent == "/a/x")
            #expect(secondEvent == "/b/x")
            var third = client.watch("/c/**", fromRev: 0).makeAsyncIterator()
            await #expect {
                _ = try await third.next()
            } throws: { error in
                (error as? RPCError)?.code == .resourceExhausted && (error as? RPCError)?.message.contains("2 watches") == true
            }
        }
        try await withCoordinator({ $0.maxPendingWrites = 0 }) { _, client in
            await #expect {
                try await client.set("/a", "1")
            } throws: { error in
                (error as? RPCError)?.code == .resourceExhausted && (error as? RPCError)?.message.contains("waiting for the log") == true
            }
            let after = try await client.get("/a")
            #expect(after == nil, "nothing was written")
        }
    }

    @Test("bad input gets a precise error code, nothing is logged, and the server keeps serving")
    func badInput() async throws {
        try await withCoordinator({ $0.watchLimits = WatchHubLimits(maxHistoryEvents: 5) }) { server, client in
            for i in 0..<4 { try await client.set("/big/\(i)", [UInt8](repeating: 1, count: 1 << 20)) }
            for i in 0..<10 { try await client.set("/h/\(i)", "x") }
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: server.localAddress!.port!)
            defer { Task { await connection.close() } }
            func code(_ method: String, _ params: [MessagePackValue]) async -> (String, String) {
                do {
                    _ = try await connection.call(method, params)
                    return ("ok", "")
                } catch let error as RPCError {
                    return (error.code.rawValue, error.message)
                } catch {
                    return ("?", "\(error)")
                }
            }
            let cases: [(String, [MessagePackValue], String, String)] = [
                ("set", ["no-slash", .binary([1])], "BadPath", "must start with /"),
                ("set", ["/a//b", .binary([1])], "BadPath", "empty segment"),
                ("set", ["/a b", .binary([1])], "BadPath", "found ' '"),
                ("get", [.string("/" + String(repeating: "x", count: 2000))], "BadPath", "longer than 1024 bytes"),
                ("set", ["/big", .binary([UInt8](repeating: 0, count: (1 << 20) + 1))], "TooLarge", "exceeds the maximum value size"),
                ("set", [.int(5), .binary([1])], "BadRequest", "set: params[0] (path): expected str, found int"),
                ("set", ["/a", .bool(true)], "BadRequest", "set: params[1] (value): expected bin or str, found bool"),
                ("set", ["/a", .binary([1]), .int(-7)], "BadRequest", "ifRev"),
                ("set", ["/a", .binary([1]), .int(-1), .uint(424242)], "SessionNotFound", "session 424242"),
                ("keepAlive", [.uint(99)], "SessionNotFound", "session 99"),
                ("openSession", [.int(1)], "BadRequest", "ttlMs"),
                ("get", [], "BadRequest", "params[0] (path) is required"),
                ("get", ["/a", .int(0), .bool(false), .int(9)], "BadRequest", "takes at most 3 params"),
                ("get", ["/h/1", .int(6)], "Compacted", "oldest revision kept"),
                ("watch", [.uint(1), "/h/**", .int(1)], "Compacted", "watches can start from revision"),
                ("watch", [.uint(2), "/h/[x]"], "BadPath", ""),
                ("txn", [[["path": "/t", "target": "bogus", "value": 1]], []], "BadRequest", "txn: compares[0].target"),
                ("txn", [[], [["op": "set", "path": "/t"]]], "BadRequest", "txn: success[0]: missing \"value\""),
                ("nosuch", [], "NoSuchMethod", "nosuch"),
                ("get", ["/a", .int(-3)], "BadRequest", "params[1] (atRev)"),
            ]
            let before = try await client.status()["revision"]
            for (method, params, expected, fragment) in cases {
                let (got, message) = await code(method, params)
                #expect(got == expected, "\(method) \(params.prefix(2)): \(got) \(message)")
                #expect(fragment.isEmpty || message.contains(fragment), "\(method): \(message)")
            }
            #expect(try await client.status()["revision"] == before, "no bad request reached the log")
            do {
                _ = try await connection.call("watch", [.uint(3), "/h/**", .int(1)])
                Issue.record("a watch from a compacted revision was accepted")
            } catch let error as RPCError {
                #expect(error.data?["oldest"]?.int64Value == 10, "Compacted carries the oldest revision kept")
            }
            do {
                _ = try await connection.call("set", ["/h/1", .binary([1]), .int(1)])
                Issue.record("a compare-and-set against a stale revision was accepted")
            } catch let error as RPCError {
                #expect(error.code == .revMismatch)
                #expect(error.data?["current"]?.int64Value == 6, "RevMismatch carries the current revision")
            }
            #expect(try await client.get("/h/9")?.value.text == "x", "the server still serves")
            // 4 MiB of values do not fit one answer: the client pages through them.
            #expect(try await client.walk("/big/**").map(\.path.string) == ["/big/0", "/big/1", "/big/2", "/big/3"])
            #expect(connection.isActive, "errors in calls do not close the connection")
        }
    }
}

@Suite("Coordinator client failover", .timeLimit(.minutes(1)))
struct CoordinatorClientFailoverTests {
    /// A port nothing listens on: bound by a server that is then shut down.
    @Test("a dead address in the list is skipped; the live one serves")
    func skipsDeadAddresses() async throws {
        let refusing = try RefusingPort()
        let dead = refusing.port
        defer { withExtendedLifetime(refusing) {} }
        try await withCoordinator { server, _ in
            let client = CoordinatorClient(
                configuration: .init(addresses: ["127.0.0.1:\(dead)", "127.0.0.1:\(server.localAddress!.port!)"], callTimeout: testCoordinatorTimeout, backoff: .milliseconds(10)...(.milliseconds(50))),
                logger: quietLogger())
            let rev = try await client.set("/failover/k", "v")
            #expect(try await client.get("/failover/k")?.stat.modRev == rev)
            await client.close()
        }
    }

    @Test("when no coordinator answers, the error names every address tried (waiting or failing fast)", arguments: [false, true])
    func namesAddresses(failFast: Bool) async throws {
        // Held for the whole test: ports that refuse, which no server alongside can take.
        let refusing = (try RefusingPort(), try RefusingPort())
        defer { withExtendedLifetime(refusing) {} }
        let (a, b) = (refusing.0.port, refusing.1.port)
        let client = CoordinatorClient(
            configuration: .init(
                addresses: ["127.0.0.1:\(a)", "127.0.0.1:\(b)"], callTimeout: .milliseconds(300),
                backoff: .milliseconds(10)...(.milliseconds(50)), failFast: failFast),
            logger: quietLogger())
        do {
            _ = try await client.get("/x")
            Issue.record("a call succeeded with no coordinator")
        } catch let error as RPCError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("127.0.0.1:\(a)") && error.message.contains("127.0.0.1:\(b)"), "\(error.message)")
        }
        await client.close()
    }
}
