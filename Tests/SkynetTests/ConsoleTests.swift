import AsyncHTTPClient
import Foundation
import MessagePack
import NIOCore
import NIOHTTP1
import Prometheus
import Skynet
import SkynetRPC
import SkynetTree
import Testing

@testable import SkynetConsole

/// The console's pure parts: the registry mirror and Server-Sent Events framing.
@Suite("Console cores")
struct ConsoleCoreTests {
    private func info(_ port: Int, region: String = "us", registered: Bool = true) -> ServiceInfo {
        ServiceInfo(
            uuid: "uuid-\(port)", name: "echo", version: "1", region: region, host: "h", serviceAddress: "127.0.0.1:\(port)",
            adminAddress: "127.0.0.1:\(port + 1)", pid: 1, started: Date(timeIntervalSince1970: 1_000_000), registered: registered)
    }

    private func event(_ kind: TreeEvent.Kind, _ info: ServiceInfo, rev: Int64) throws -> TreeEvent {
        TreeEvent(rev: rev, path: try TreePath(info.path!), kind: kind, value: kind == .put ? try MessagePackEncoder().encode(info) : [])
    }

    @Test("the mirror follows puts, changes and deletes of instance records, and ignores what is not one")
    func mirror() throws {
        var mirror = RegistryMirror()
        let a = info(9000), b = info(9002, region: "eu")
        let file = TreeFile(path: try TreePath(a.path!), value: try MessagePackEncoder().encode(a), stat: FileStat(createRev: 1, modRev: 1, version: 1, session: nil, size: 1))
        let junk = TreeFile(path: try TreePath("/skynet/services/echo/1/us/h/notaport"), value: [1, 2], stat: file.stat)
        mirror.reset(revision: 5, files: [file, junk])
        #expect(mirror.revision == 5)
        #expect(mirror.sorted.map(\.info) == [a])

        let added = mirror.apply(revision: 6, events: [try event(.put, b, rev: 6)])
        #expect(added == [.put(RegistryInstance(path: b.path!, info: b))])
        #expect(mirror.sorted.map(\.info.region) == ["eu", "us"])

        // The same record again changes nothing; a changed one is a put.
        #expect(mirror.apply(revision: 7, events: [try event(.put, b, rev: 7)]).isEmpty)
        let unregistered = info(9002, region: "eu", registered: false)
        #expect(mirror.apply(revision: 8, events: [try event(.put, unregistered, rev: 8)]) == [.put(RegistryInstance(path: b.path!, info: unregistered))])

        // A record overwritten with something undecodable is gone from view; deletes too,
        // and a delete of something never shown is no change.
        var garbled = try event(.put, a, rev: 9)
        garbled.value = [0xc1]
        #expect(mirror.apply(revision: 9, events: [garbled]) == [.removed(path: a.path!)])
        #expect(mirror.apply(revision: 10, events: [try event(.delete, unregistered, rev: 10), try event(.delete, a, rev: 10)]) == [.removed(path: b.path!)])
        #expect(mirror.sorted.isEmpty)
        #expect(mirror.revision == 10)
    }

    @Test("an event's data is split into data lines at every line break; names lose theirs")
    func sseFrames() {
        #expect(ServerSentEvent(event: "put", data: "{}").text == "event: put\ndata: {}\n\n")
        #expect(ServerSentEvent(event: nil, data: "a\nb\r\nc\rd").text == "data: a\ndata: b\ndata: c\ndata: d\n\n")
        #expect(ServerSentEvent(event: "x\ny", data: "").text == "event: xy\ndata: \n\n")
    }

    @Test("stored MessagePack maps and arrays show decoded; text and scalars do not")
    func messagePackValues() throws {
        #expect(MessagePackJSON(try MessagePackEncoder().encode(["a": 1])) != nil)
        #expect(MessagePackJSON(Array("hello".utf8)) == nil)
        #expect(MessagePackJSON(Array("42".utf8)) == nil)
        #expect(MessagePackJSON([0x91]) == nil)   // an array header with its element missing
    }
}

/// Calls counted and timed by method and code, read back as Prometheus text.
@Suite("RPC method metrics")
struct RPCMethodMetricsTests {
    @Test("calls are counted by method and result code and timed; replying handlers too; in-flight returns to 0")
    func counted() async throws {
        let registry = PrometheusCollectorRegistry()
        var router = RPCRouter()
        router.register("ok") { () in 1 }
        router.register("fail") { () throws -> Int in throw RPCError(.notFound, "nothing") }
        router.registerReplying("later") { _, _, reply in reply(.success(.bool(true))) }
        RPCMethodMetrics(server: "test", factory: PrometheusMetricsFactory(registry: registry)).instrument(&router)
        let server = RPCServer(configuration: .init(host: "127.0.0.1", port: 0), router: router, logger: quietLogger())
        let port = try await server.start().port!
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        for _ in 0..<3 { _ = try await connection.call("ok", [], timeout: .seconds(30)) }
        for _ in 0..<2 { await #expect(throws: RPCError.self) { try await connection.call("fail", [], timeout: .seconds(30)) } }
        _ = try await connection.call("later", [], timeout: .seconds(30))
        await #expect(throws: RPCError.self) { try await connection.call("nobody", [], timeout: .seconds(30)) }
        await connection.close()
        await server.shutdown()

        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#"skynet_rpc_calls_total{server="test",method="ok",code="OK"} 3"#))
        #expect(text.contains(#"skynet_rpc_calls_total{server="test",method="fail",code="NotFound"} 2"#))
        #expect(text.contains(#"skynet_rpc_calls_total{server="test",method="later",code="OK"} 1"#))
        #expect(text.contains(#"skynet_rpc_call_duration_seconds_count{server="test",method="ok"} 3"#))
        #expect(text.contains(#"skynet_rpc_in_flight{server="test"} 0"#))
        #expect(!text.contains("nobody"))   // unregistered names are the caller's: not a label
    }
}

/// The console against a live coordinator and live services: its JSON API, its event
/// stream and its answers to bad input.
@Suite("Console (live)")
struct ConsoleLiveTests {
    private struct Answer {
        var status: Int
        var json: [String: Any]
    }

    private static func request(_ port: Int, _ path: String, method: HTTPMethod = .GET) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
        return Answer(status: Int(response.status.code), json: json)
    }

    /// A console over a fresh coordinator, on free ports; stopped after `body`.
    private static func withConsole(_ body: (_ consolePort: Int, _ coordinatorPort: Int) async throws -> Void) async throws {
        try await withCoordinator { server, _ in
            let coordinatorPort = server.localAddress!.port!
            let console = ConsoleServer(
                host: "127.0.0.1", port: 0, coordinators: ["127.0.0.1:\(coordinatorPort)"], timer: nil, metrics: nil, logger: quietLogger())
            let running = Task { try await console.run() }
            guard let port = await console.listeningPort() else { throw SkynetdError("the console did not listen: \(await running.result)") }
            let result: Result<Void, any Error>
            do { result = .success(try await body(port, coordinatorPort)) } catch { result = .failure(error) }
            running.cancel()
            _ = await running.result
            try result.get()
        }
    }

    /// Reads the event stream's frames until `done` says one was the awaited one.
    private static func read(_ frames: inout HTTPClientResponse.Body.AsyncIterator, until done: (String, [String: Any]) -> Bool) async throws {
        var pending = ""
        while let buffer = try await frames.next() {
            pending += String(buffer: buffer)
            while let end = pending.range(of: "\n\n") {
                let frame = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                let lines = frame.split(separator: "\n")
                guard let event = lines.first(where: { $0.hasPrefix("event: ") })?.dropFirst(7),
                      let data = lines.first(where: { $0.hasPrefix("data: ") })?.dropFirst(6),
                      let json = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]
                else { continue }
                if done(String(event), json) { return }
            }
        }
        throw SkynetdError("the event stream ended")
    }

    @Test("the event stream starts with a snapshot, then shows an instance arrive, leave rotation through the API, and go")
    func events() async throws {
        try await Self.withConsole { port, coordinatorPort in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/events")
            request.method = .GET
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            #expect(response.headers.first(name: "content-type") == "text/event-stream")
            var frames = response.body.makeAsyncIterator()
            try await Self.read(&frames) { event, json in event == "snapshot" && (json["instances"] as? [Any])?.isEmpty == true }

            let service = try await startService("a", region: "eu", coordinatorPort: coordinatorPort)
            let uuid = service.info!.uuid
            try await Self.read(&frames) { event, json in
                event == "put" && ((json["instance"] as? [String: Any])?["info"] as? [String: Any])?["uuid"] as? String == uuid
            }
            let topology = try await Self.request(port, "/api/topology")
            #expect(topology.status == 200)
            #expect((topology.json["instances"] as? [[String: Any]])?.count == 1)

            let stats = try await Self.request(port, "/api/stats?instances=\(uuid),nobody")
            #expect((stats.json["stats"] as? [String: Any])?[uuid] != nil)
            #expect((stats.json["errors"] as? [String: String])?["nobody"] == "no such instance")

            let unregister = try await Self.request(port, "/api/instances/\(uuid)/unregister", method: .POST)
            #expect(unregister.status == 200)
            #expect(unregister.json["ok"] as? Bool == true)
            try await Self.read(&frames) { event, json in
                event == "put" && ((json["instance"] as? [String: Any])?["info"] as? [String: Any])?["registered"] as? Bool == false
            }
            await service.stop()
            try await Self.read(&frames) { event, json in event == "remove" && (json["path"] as? String)?.hasPrefix("/skynet/services/echo/1/eu/") == true }
        }
    }

    @Test("bad input gets a precise JSON error with a fitting status, and the console goes on serving")
    func badInput() async throws {
        try await Self.withConsole { port, _ in
            let tooMany: String = (0...256).map { String($0) }.joined(separator: ",")
            let cases: [(String, HTTPMethod, Int, String)] = [
                ("/api/tree?path=relative", .GET, 400, "must start with /"),
                ("/api/tree", .GET, 400, "path: missing"),
                ("/api/tree?path=/no/such/thing", .GET, 404, "nothing at /no/such/thing"),
                ("/api/tree/events?path=bad", .GET, 400, "must start with /"),
                ("/api/instances/nobody/unregister", .POST, 404, "no instance nobody"),
                ("/api/instances/nobody/explode", .POST, 400, "expected one of register, stop, unregister"),
                ("/api/stats?instances=\(tooMany)", .GET, 400, "at most 256"),
            ]
            for (path, method, status, message) in cases {
                let answer = try await Self.request(port, path, method: method)
                #expect(answer.status == status, "\(path)")
                #expect((answer.json["message"] as? String)?.contains(message) == true, "\(path): \(answer.json)")
                #expect(answer.json["code"] is String, "\(path)")
            }
            let timers = try await Self.request(port, "/api/timers")
            #expect(timers.json["running"] as? Bool == false)
            let coordinator = try await Self.request(port, "/api/coordinator")
            #expect(coordinator.json["store"] as? String == "embedded")
            let tree = try await Self.request(port, "/api/tree?path=/")
            #expect(tree.json["kind"] as? String == "directory")
        }
    }

    @Test("the dashboard's page, script and style come from the binary")
    func assets() async throws {
        try await Self.withConsole { port, _ in
            for (path, marker) in [("/", "<title>Skynet</title>"), ("/dashboard.js", "EventSource(\"/api/events\")"), ("/dashboard.css", ".pill")] {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(30))
                #expect(response.status == .ok)
                let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                #expect(body.contains(marker), "\(path)")
            }
        }
    }
}
