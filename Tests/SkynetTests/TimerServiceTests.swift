import AsyncHTTPClient
import Foundation
import MessagePack
import NIOCore
import NIOHTTP1
import Skynet
import SkynetTimer
import Testing

/// The timer service live: real skynetd and skynet-timer processes, a real HTTP receiver
/// for the callbacks, HTTP calls through async-http-client.
@Suite("Timer service, live")
struct TimerServiceTests {
    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var json: [String: Any]
    }

    /// One HTTP call to the timer API on `port`.
    static func call(_ method: HTTPMethod, _ port: Int, _ path: String, body: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        return Reply(status: Int(response.status.code), headers: response.headers, json: json)
    }

    static func create(_ port: Int, timeout: Int, uri: String, data: String = "payload", retries: Int? = nil) async throws -> String {
        let retriesField = retries.map { #", "retries": \#($0)"# } ?? ""
        let reply = try await call(.POST, port, "/timer", body: #"{"timeout": \#(timeout), "data": "\#(data)"\#(retriesField), "callback": {"transport": "http", "method": "post", "uri": "\#(uri)"}}"#)
        #expect(reply.status == 201, "\(reply.json)")
        let id = try #require(reply.json["id"] as? String)
        #expect(reply.headers["location"].first == "/timer/\(id)")
        return id
    }

    @Test("the HTTP API: every status code, and every bad input named in x-skyring-reason and the JSON body")
    func httpAPI() async throws {
        let dir = temporaryPath("timer-http")
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { daemon.stop() }
        let port = try #require(daemon.httpPort)
        let hook = #""callback": {"transport": "http", "uri": "http://127.0.0.1:1/never"}"#
        let bad: [(String, String)] = [
            ("{not json", "body: not valid JSON"),
            ("[1, 2]", "body: must be a JSON object"),
            (#"{\#(hook)}"#, "timeout: is required"),
            (#"{"timeout": "soon", \#(hook)}"#, "timeout: must be an integer (milliseconds)"),
            (#"{"timeout": 2.5, \#(hook)}"#, "timeout: must be an integer (milliseconds)"),
            (#"{"timeout": 0, \#(hook)}"#, "timeout: must be between 1 and 2147483647 ms"),
            (#"{"timeout": 2147483648, \#(hook)}"#, "timeout: must be between 1 and 2147483647 ms"),
            (#"{"timeout": 10}"#, "callback: is required"),
            (#"{"timeout": 10, "callback": {"uri": "http://h"}}"#, "callback.transport: is required"),
            (#"{"timeout": 10, "callback": {"transport": "carrier-pigeon"}}"#, "callback.transport: must be http or skynet"),
            (#"{"timeout": 10, "callback": {"transport": "http"}}"#, "callback.uri: is required"),
            (#"{"timeout": 10, "callback": {"transport": "http", "uri": "gopher://h/"}}"#, "callback.uri: must be an http:// or https:// URL with a host"),
            (#"{"timeout": 10, "data": "\#(String(repeating: "x", count: TimerSpec.maxData + 1))", \#(hook)}"#,
             "data: must be at most \(TimerSpec.maxData) bytes (found \(TimerSpec.maxData + 1))"),
        ]
        for (body, reason) in bad {
            let reply = try await Self.call(.POST, port, "/timer", body: body)
            #expect(reply.status == 400, "\(body.prefix(80))")
            #expect(reply.headers["x-skyring-reason"].first == reason, "\(body.prefix(80))")
            #expect(reply.json["code"] as? String == "BadRequest")
            #expect(reply.json["message"] as? String == reason)
        }
        #expect(try await Self.call(.GET, port, "/ping").status == 200)

        let id = try await Self.create(port, timeout: 3_600_000, uri: "http://127.0.0.1:1/later")
        let got = try await Self.call(.GET, port, "/timer/\(id)")
        #expect(got.status == 200)
        #expect(got.json["state"] as? String == "pending")
        #expect(got.json["attempts"] as? Int == 0)
        #expect(got.json["data"] as? String == "payload")
        let put = try await Self.call(.PUT, port, "/timer/\(id)", body: #"{"timeout": 7200000, "data": "changed", \#(hook)}"#)
        #expect(put.status == 200)
        #expect(put.json["data"] as? String == "changed")
        let badPut = try await Self.call(.PUT, port, "/timer/\(id)", body: #"{"timeout": -5, \#(hook)}"#)
        #expect(badPut.status == 400)
        #expect(badPut.headers["x-skyring-reason"].first == "timeout: must be between 1 and 2147483647 ms")
        #expect(try await Self.call(.DELETE, port, "/timer/\(id)").status == 202)
        #expect(try await Self.call(.DELETE, port, "/timer/\(id)").status == 404)
        #expect(try await Self.call(.GET, port, "/timer/\(id)").status == 404)
        #expect(try await Self.call(.PUT, port, "/timer/\(id)", body: #"{"timeout": 5, \#(hook)}"#).status == 404)
        #expect(try await Self.call(.GET, port, "/timer/not-a-timer-id").status == 404)
        let list = try await Self.call(.GET, port, "/timer?state=failed")
        #expect(list.status == 200)
        #expect((list.json["timers"] as? [Any])?.isEmpty == true)
        let badList = try await Self.call(.GET, port, "/timer?state=late")
        #expect(badList.status == 400)
        #expect(badList.headers["x-skyring-reason"].first == "state: must be one of pending, delivering, failed")
    }

    @Test("a callback arrives after its timeout with its headers and data; a cancelled timer never fires")
    func delivery() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { receiver.stop() }
        let dir = temporaryPath("timer-delivery")
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { daemon.stop() }
        let port = try #require(daemon.httpPort)
        let created = Date()
        let fired = try await Self.create(port, timeout: 300, uri: receiver.url("/fired"), data: "hello")
        // Due in 5 s: time enough for the cancel to land first, even on a loaded machine.
        let cancelled = try await Self.create(port, timeout: 5_000, uri: receiver.url("/cancelled"))
        #expect(try await Self.call(.DELETE, port, "/timer/\(cancelled)").status == 202)
        // A later timer: once it has arrived, the cancelled one (due before it) would have too.
        _ = try await Self.create(port, timeout: 6_000, uri: receiver.url("/last"))
        let arrival = await receiver.first(on: "/fired")
        #expect(arrival.id == fired)
        #expect(arrival.attempt == 1)
        #expect(arrival.body == "hello")
        #expect(arrival.at.timeIntervalSince(created) >= 0.3, "fired before its timeout")
        _ = await receiver.first(on: "/last")
        #expect(!receiver.received.contains { $0.path == "/cancelled" })
    }

    @Test("a receiver that answers 500 then 200 gets the callback again, and the delivered timer is gone")
    func retried() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { receiver.stop() }
        receiver.script("/flaky", [500])
        let dir = temporaryPath("timer-retry")
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { daemon.stop() }
        let port = try #require(daemon.httpPort)
        let coordinator = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout))
        defer { Task { await coordinator.close() } }
        let before = try await coordinator.walkAtRevision("/skynet/timers/shards/*/*").revision
        let id = try await Self.create(port, timeout: 50, uri: receiver.url("/flaky"))
        let path = "/skynet/timers/shards/\(String(format: "%02d", shardOf(id)))/\(id)"
        let removed = Task { try await waitForDeletion(coordinator, path, after: before) }
        let arrivals = await receiver.arrivals(atLeast: 2)
        #expect(arrivals.map(\.attempt) == [1, 2])
        #expect(Set(arrivals.map(\.id)) == [id])
        try await removed.value
        #expect(try await Self.call(.GET, port, "/timer/\(id)").status == 404)
    }

    @Test("a receiver that never answers 2xx: the timer ends failed, is kept and listed")
    func failed() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { receiver.stop() }
        receiver.script("/broken", [500, 503])
        let dir = temporaryPath("timer-failed")
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { daemon.stop() }
        let port = try #require(daemon.httpPort)
        let coordinator = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout))
        defer { Task { await coordinator.close() } }
        let before = try await coordinator.walkAtRevision("/skynet/timers/failed/*").revision
        let failedIndex = Task { try await waitForWrite(coordinator, "/skynet/timers/failed/*", after: before) }
        let id = try await Self.create(port, timeout: 20, uri: receiver.url("/broken"), retries: 1)
        #expect(try await failedIndex.value == "/skynet/timers/failed/\(id)")
        let got = try await Self.call(.GET, port, "/timer/\(id)")
        #expect(got.json["state"] as? String == "failed")
        #expect(got.json["attempts"] as? Int == 2)
        #expect((got.json["lastError"] as? String)?.contains("503") == true)
        let list = try await Self.call(.GET, port, "/timer?state=failed")
        let listed = (list.json["timers"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(listed == [id])
        #expect(receiver.received.count == 2)
    }

    @Test("timers pending when skynetd stops fire after it restarts")
    func survivesRestart() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { receiver.stop() }
        let dir = temporaryPath("timer-restart")
        let first = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        let port = try #require(first.httpPort)
        let created = Date()
        let id = try await Self.create(port, timeout: 1_500, uri: receiver.url("/after-restart"))
        first.stop()
        #expect(receiver.received.isEmpty)
        let second = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { second.stop() }
        let arrival = await receiver.first(on: "/after-restart")
        #expect(arrival.id == id)
        #expect(arrival.at.timeIntervalSince(created) >= 1.5)
    }

    @Test("three timer instances: kill -9 the owner of a pending timer and another fires it within the session TTL plus a second")
    func failover() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { receiver.stop() }
        let dir = temporaryPath("timer-failover")
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { daemon.stop() }
        var instances: [(process: TestChildProcess, rpc: String)] = []
        defer { for instance in instances { instance.process.stop(signal: SIGKILL) } }
        for n in 0..<2 {
            let (process, line) = try await offPool {
                try SkynetdProcess.launch(
                    SkynetdProcess.builtBinary("skynet-timer"),
                    ["--coordinators", daemon.address, "--http", "127.0.0.1:0", "--log-level", "info"],
                    stderrPath: dir + "-timer\(n).log", marker: "skynet-timer serving")
            }
            let rpc = String(line.split(separator: " ")[2].dropLast())   // "skynet-timer serving ADDR, http ..."
            instances.append((TestChildProcess(process: process), rpc))
        }
        let coordinator = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout))
        defer { Task { await coordinator.close() } }
        // Until all three hold shards, an owner could still be moving.
        try await waitForOwners(coordinator, count: 3)
        // Pick a timer whose shard a standalone instance owns: create through the HTTP API of
        // skynetd's in-process instance (it forwards), until one lands on a killable owner.
        let port = try #require(daemon.httpPort)
        var victim: (id: String, index: Int)?
        for attempt in 0..<32 where victim == nil {
            let id = try await Self.create(port, timeout: 2_000, uri: receiver.url("/survivor"), data: "n\(attempt)")
            let owner = try await coordinator.get(String(format: "/skynet/timers/owners/%02d", shardOf(id)))
            let address = owner.map { String(decoding: $0.value, as: UTF8.self).split(separator: " ")[0] }
            if let index = instances.firstIndex(where: { $0.rpc == address.map(String.init) }) {
                victim = (id, index)
            } else {
                #expect(try await Self.call(.DELETE, port, "/timer/\(id)").status == 202)
            }
        }
        let (id, index) = try #require(victim)
        let killed = Date()
        instances[index].process.stop(signal: SIGKILL)
        let arrival = await receiver.first(on: "/survivor")
        #expect(arrival.id == id)
        let ttl = 5.0
        print("timer failover: fired \(arrival.at.timeIntervalSince(killed)) s after kill -9 of its owner")
        #expect(arrival.at.timeIntervalSince(killed) <= ttl + 1, "fired \(arrival.at.timeIntervalSince(killed)) s after the kill")
    }
}

extension TimerServiceTests {
    @Test("sky timer create, get, list, cancel: over RPC, routed by shard; bad input and unknown ids get one clear line")
    func skyTimer() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { receiver.stop() }
        let dir = temporaryPath("timer-sky")
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { daemon.stop() }
        // A generous timeout: this is about answers, and with every suite running alongside
        // on two cores a call can take longer than sky's default 3 s.
        let sky = { (arguments: [String]) in try await runTool("sky", ["-timeout=30"] + arguments, environment: ["SKYNET_COORDINATORS": daemon.address]) }
        let created = try await sky(["timer", "create", "-delay=600000", "-uri=\(receiver.url("/sky"))", "-data=from-sky", "-json"])
        #expect(created.status == 0, "\(created.err)")
        let row = try JSONSerialization.jsonObject(with: Data(created.out.utf8)) as? [String: Any]
        let id = try #require(row?["id"] as? String)
        #expect(row?["state"] as? String == "pending")
        #expect(row?["data"] as? String == "from-sky")
        let shown = try await sky(["timer", "get", id])
        #expect(shown.status == 0)
        #expect(shown.out.contains(id) && shown.out.contains("POST \(receiver.url("/sky"))"))
        // Global flags may come first, as for every other command.
        let listed = try await runTool("sky", ["-coordinators=\(daemon.address)", "-json", "timer", "list"])
        #expect((try JSONSerialization.jsonObject(with: Data(listed.out.utf8)) as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])
        let cancelled = try await sky(["timer", "cancel", id])
        #expect(cancelled.status == 0, "\(cancelled.err)")
        let gone = try await sky(["timer", "get", id])
        #expect(gone.status == 1)
        #expect(gone.err.contains("no timer \(id)"))
        let bad = try await sky(["timer", "create", "-delay=0", "-uri=http://127.0.0.1:1/x"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("timeout: must be between 1 and 2147483647 ms"))
        let neither = try await sky(["timer", "create", "-delay=10"])
        #expect(neither.status == 2)
        #expect(neither.err.contains("-uri"))
        #expect(receiver.received.isEmpty)
    }
}

extension TimerServiceTests {
    @Test("the skynet transport calls a Skynet service through the pool: delivered timers go, a missing method ends failed with its reason")
    func skynetTransport() async throws {
        let dir = temporaryPath("timer-skynet")
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { daemon.stop() }
        let echo = try await offPool { try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "echo") }
        defer { echo.stop() }
        let port = try #require(daemon.httpPort)
        let coordinator = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout))
        defer { Task { await coordinator.close() } }
        let before = try await coordinator.walkAtRevision("/skynet/timers/**").revision
        let failedIndex = Task { try await waitForWrite(coordinator, "/skynet/timers/failed/*", after: before) }
        let good = try #require(try await Self.call(.POST, port, "/timer", body: #"{"timeout": 30, "data": "ping", "callback": {"transport": "skynet", "service": "echo", "method": "echo"}}"#).json["id"] as? String)
        let path = "/skynet/timers/shards/\(String(format: "%02d", shardOf(good)))/\(good)"
        let bad = try #require(try await Self.call(.POST, port, "/timer", body: #"{"timeout": 30, "retries": 0, "callback": {"transport": "skynet", "service": "echo", "version": "1", "method": "nope"}}"#).json["id"] as? String)
        try await waitForDeletion(coordinator, path, after: before)
        #expect(try await Self.call(.GET, port, "/timer/\(good)").status == 404)
        #expect(try await failedIndex.value == "/skynet/timers/failed/\(bad)")
        let failed = try await Self.call(.GET, port, "/timer/\(bad)")
        #expect(failed.json["state"] as? String == "failed")
        #expect((failed.json["lastError"] as? String)?.contains("NoSuchMethod") == true)
    }
}

extension TimerServiceTests {
    @Test("GET /timer pages through every timer with limit and next, each once; a bad cursor is 400")
    func listPages() async throws {
        let dir = temporaryPath("timer-list")
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        defer { daemon.stop() }
        let port = try #require(daemon.httpPort)
        var created: Set<String> = []
        for n in 0..<7 { created.insert(try await Self.create(port, timeout: 3_600_000, uri: "http://127.0.0.1:1/n\(n)")) }
        var seen: [String] = []
        var query = "/timer?limit=3"
        var pages = 0
        while pages < 10 {
            let page = try await Self.call(.GET, port, query)
            #expect(page.status == 200)
            let ids = (page.json["timers"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids.count <= 3)
            seen += ids
            pages += 1
            guard let next = page.json["next"] as? String else { break }
            #expect(next == ids.last)
            query = "/timer?limit=3&after=\(next)"
        }
        #expect(seen.count == 7)
        #expect(Set(seen) == created)
        #expect(pages == 3)
        let bad = try await Self.call(.GET, port, "/timer?after=yesterday")
        #expect(bad.status == 400)
        #expect(bad.headers["x-skyring-reason"].first == "after: must be a timer id (the `next` of the previous page)")
    }
}

private func shardOf(_ id: String) -> Int {
    Int(HashRing.hash(id) % 64)
}

/// Waits (by a coordinator watch from the revision after `after`) until `path` is deleted.
private func waitForDeletion(_ coordinator: CoordinatorClient, _ path: String, after: Int64) async throws {
    for try await update in coordinator.watch(path, fromRev: after + 1) {
        if update.events.contains(where: { $0.path.string == path && $0.kind == .delete }) { return }
    }
}

/// Waits (by a coordinator watch from the revision after `after`) for the first file written
/// under `glob`; returns its path.
private func waitForWrite(_ coordinator: CoordinatorClient, _ glob: String, after: Int64) async throws -> String {
    for try await update in coordinator.watch(glob, fromRev: after + 1) {
        if let event = update.events.first(where: { $0.kind == .put }) { return event.path.string }
    }
    throw CancellationError()
}

/// Waits until the shards' owner files name `count` distinct instances.
private func waitForOwners(_ coordinator: CoordinatorClient, count: Int) async throws {
    let glob = "/skynet/timers/owners/*"
    var (revision, files) = try await coordinator.walkAtRevision(glob)
    while Set(files.map { $0.value.split(separator: UInt8(ascii: " ")).first.map(Array.init) ?? [] }).count < count {
        for try await update in coordinator.watch(glob, fromRev: revision + 1) where !update.isProgress { break }
        (revision, files) = try await coordinator.walkAtRevision(glob)
    }
}
