import Foundation
import MessagePack
import Skynet
import SkynetRPC
import Synchronization
import Testing

/// Set once the daemon is killed: from then on a failed write ends its writer.
private final class KilledFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

@Suite("skynetd as a real process", .serialized, .timeLimit(.minutes(3)))
struct SkynetdProcessTests {
    @Test("kill -9 while writes are in flight: after a restart every acknowledged write is there")
    func killNine() async throws {
        let dir = temporaryPath("skynetd-kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, extra: ["--snapshot-every", "300"]) }
        let client = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: .seconds(2)), logger: quietLogger())
        let acknowledged = Acknowledged(signalAt: 1_000)
        let killed = KilledFlag()
        // 16 writers go on until the daemon dies under them; each records what was acknowledged.
        // A write that fails before the kill (a call timing out while every suite starts on two
        // cores) is only skipped: the writer goes on, so the 1,000 writes are reached.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    for i in 0..<10_000 {
                        let key = "/kill/w\(writer)/k\(i)", value = "v\(writer)-\(i)"
                        do { try await client.set(key, value) } catch {
                            if killed.isSet { return } else { continue }
                        }
                        acknowledged.record(key, value)
                    }
                }
            }
            group.addTask {
                // Let at least 1,000 writes land (several snapshots), then kill -9 mid-stream.
                for await _ in acknowledged.reached { break }
                killed.set()
                daemon.stop(signal: SIGKILL)
            }
            try await group.waitForAll()
        }
        await client.close()
        let expected = acknowledged.writes
        #expect(expected.count >= 1_000)
        let restarted = try await offPool { try SkynetdProcess(dataDir: dir) }
        let reader = CoordinatorClient(configuration: .init(addresses: [restarted.address], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        let files = try await reader.walk("/kill/**")
        let found = Dictionary(uniqueKeysWithValues: files.map { ($0.path.string, $0.value.text) })
        let missing = expected.filter { found[$0.key] != $0.value }
        #expect(missing.isEmpty, "\(missing.count) acknowledged writes lost, e.g. \(missing.first.map { "\($0)" } ?? "")")
        // Unacknowledged writes may or may not be there, but nothing else may be.
        #expect(found.count >= expected.count && found.count <= expected.count + 16)
        await reader.close()
        #expect(restarted.stop() == 0, "SIGTERM stops skynetd gracefully with status 0")
    }

    @Test("a watch across a server restart sees every revision once: no gap, no duplicate")
    func watchAcrossRestart() async throws {
        let dir = temporaryPath("skynetd-watch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let port = daemon.port
        let configuration = CoordinatorClientConfiguration(addresses: ["127.0.0.1:\(port)"], callTimeout: testCoordinatorTimeout, backoff: .milliseconds(20)...(.milliseconds(200)))
        let watcher = CoordinatorClient(configuration: configuration, logger: quietLogger())
        let writer = CoordinatorClient(configuration: configuration, logger: quietLogger())
        let first = try await writer.set("/r/0", "0")
        let watch = watcher.watch("/r/**", fromRev: first)
        let collected = Task { try await collect(watch) { $0.contains { $0.path.string == "/r/100" } } }
        for i in 1...50 { try await writer.set("/r/\(i)", "\(i)") }
        #expect(daemon.stop(signal: SIGKILL) == SIGKILL)
        daemon = try await offPool { try SkynetdProcess(dataDir: dir, port: port) }
        for i in 51...100 {
            // The writer's first call after the restart may meet the dead connection; retry it.
            for attempt in 1...20 {
                do {
                    try await writer.set("/r/\(i)", "\(i)")
                    break
                } catch let error as RPCError where error.code == .unavailable && attempt < 20 {
                    continue
                }
            }
        }
        let events = try await collected.value
        #expect(events.map(\.path.string) == (0...100).map { "/r/\($0)" })
        #expect(events.map(\.rev) == Array(first...(first + 100)), "revisions are consecutive: no gap, no duplicate")
        await watcher.close()
        await writer.close()
        daemon.stop()
    }

    @Test("a session that stops keeping alive loses its files, and watchers see the deletions")
    func sessionExpiry() async throws {
        let dir = temporaryPath("skynetd-session")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let client = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        // A raw connection opens the session and never sends a keepalive.
        let raw = try await RPCConnection.connect(host: "127.0.0.1", port: daemon.port)
        // Long enough that the writes below land before it expires on a loaded machine.
        let opened = try await raw.call("openSession", [.int(1_500)])
        let session = try #require(opened["session"]?.uint64Value)
        for name in ["a", "b", "c"] {
            _ = try await raw.call("set", [.string("/svc/\(name)"), .binary([1]), .int(-1), .uint(session)])
        }
        try await client.set("/svc/persistent", "stays")
        let start = try #require(try await client.get("/svc/a")?.stat.createRev)
        let deletions = try await collect(client.watch("/svc/**", fromRev: start)) { events in
            events.filter { $0.kind == .delete }.count == 3
        }.filter { $0.kind == .delete }
        #expect(Set(deletions.map(\.path.string)) == ["/svc/a", "/svc/b", "/svc/c"])
        #expect(Set(deletions.map(\.rev)).count == 1, "a session's files go in one revision")
        #expect(try await client.walk("/svc/**").map(\.path.string) == ["/svc/persistent"])
        do {
            _ = try await raw.call("keepAlive", [.uint(session)])
            Issue.record("keepAlive after expiry succeeded")
        } catch let error as RPCError {
            #expect(error.code == .sessionNotFound)
        }
        await raw.close()
        await client.close()
        daemon.stop()
    }

    #if os(Linux)
    @Test("skynetd allocates with jemalloc, as Package.swift links it (the write path's figures rely on it)")
    func allocator() async throws {
        let dir = temporaryPath("skynetd-allocator")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let maps = try String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/maps", encoding: .utf8)
        #expect(maps.contains("libjemalloc"), "libjemalloc is not mapped into skynetd")
        daemon.stop()
    }
    #endif

    @Test("bad flags and a locked data directory: clear errors, non-zero exit")
    func badFlagsAndLock() async throws {
        let dir = temporaryPath("skynetd-flags")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: SkynetdError.self) { try SkynetdProcess(dataDir: dir, extra: ["--listen", "nowhere"]) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        do {
            _ = try await offPool { try SkynetdProcess(dataDir: dir) }
            Issue.record("a second skynetd started on a locked directory")
        } catch let error as SkynetdError {
            #expect(error.description.contains("in use by another process"), "\(error)")
        }
        daemon.stop()
    }
}

/// What the writers of the kill -9 test were told is durable.
final class Acknowledged: Sendable {
    private let state = Mutex<[String: String]>([:])
    private let threshold: Int
    private let continuation: AsyncStream<Void>.Continuation
    /// Yields once when `threshold` writes have been acknowledged.
    let reached: AsyncStream<Void>

    init(signalAt threshold: Int) {
        self.threshold = threshold
        (reached, continuation) = AsyncStream.makeStream(of: Void.self)
    }

    func record(_ key: String, _ value: String) {
        let count = state.withLock { state in
            state[key] = value
            return state.count
        }
        if count == threshold { continuation.yield() }
    }

    var writes: [String: String] { state.withLock { $0 } }
}
