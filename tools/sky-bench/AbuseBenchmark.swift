import ArgumentParser
import Foundation
import MessagePack
import NIOCore
import Skynet
import SkynetRPC
import Synchronization

/// `sky-bench abuse`: a well-behaved client's latency while other connections misbehave,
/// and the coordinator at scale (watchers, sessions), against its own unloaded figures.
struct AbuseBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abuse",
        abstract: "A well-behaved client's get and put p99 under glob bombs, idle connections, slow readers, bad frames and floods; watchers and sessions at scale.",
        discussion: """
            Starts its own skynetd (release, fresh data directory, 127.0.0.1). For each kind of abuse, and
            for all at once, --rounds times: an unloaded window of --seconds, then an abused one
            (workers get a second's head start). Every loop ends by itself.

            Examples:
              sky-bench abuse
              sky-bench abuse --seconds 2 --watchers 20000 --sessions 20000
            """)

    @Option(help: "Seconds each measured window runs.") var seconds = 2.0
    @Option(help: "Rounds of (unloaded window, abused window) per kind of abuse.") var rounds = 3
    @Option(help: "Idle connections in the idle phase.") var idleConnections = 10_000
    @Option(help: "Connections per misbehaving kind (glob bombs, slow readers, bad frames, floods).") var abusers = 8
    @Option(help: "Watchers on distinct prefixes in the scale phase.") var watchers = 100_000
    @Option(help: "Connections those watchers are spread over.") var watcherConnections = 100
    @Option(help: "Live sessions in the scale phase.") var sessions = 100_000

    /// Progress on stderr (the JSON alone goes to stdout).
    private func note(_ text: String) { FileHandle.standardError.write(Data("sky-bench abuse: \(text)\n".utf8)) }

    @Option(help: "Which parts to run, comma-separated: abuse, watchers, sessions.") var parts = "abuse,watchers,sessions"

    func validate() throws {
        let unknown = Set(parts.split(separator: ",").map(String.init)).subtracting(["abuse", "watchers", "sessions"])
        guard unknown.isEmpty else { throw ValidationError("--parts takes abuse, watchers and sessions; found \(unknown.sorted().joined(separator: ", "))") }
    }

    func run() async throws {
        let parts = Set(self.parts.split(separator: ",").map(String.init))
        var report: [(String, Any)] = [("scenario", "abuse")]
        var met = true
        let all: [(name: String, note: String, body: (DaemonProcess) async throws -> Fields)] = [
            ("abuse", "abuse", abusePart),
            ("watchers", "\(watchers) watchers", watcherScale),
            ("sessions", "\(sessions) sessions", sessionScale),
        ]
        // Each part gets a fresh skynetd, so one part's leftovers (memory, files) do not
        // colour the next one's figures.
        for part in all where parts.contains(part.name) {
            note(part.note)
            let daemon = try DaemonProcess()
            defer { daemon.stop() }
            let figures = try await part.body(daemon)
            report += figures.fields
            met = met && figures.met
        }
        report += [("targets_met", met), ("cores", ProcessInfo.processInfo.activeProcessorCount)]
        print(JSONReport.render(report))
    }

    /// The well-behaved client under each kind of abuse and all at once, each abused window
    /// paired with an unloaded window just before it.
    ///
    /// This machine's speed drifts (other tenants, frequency), and one 3-second window's p99
    /// moved by 3× between runs with nothing else changed. Pairing each abused window with
    /// an unloaded one right before it, over `rounds` rounds, compares like with like; each
    /// figure is the p99 of the pooled samples of its windows.
    private func abusePart(_ daemon: DaemonProcess) async throws -> Fields {
        let port = daemon.port
        let probe = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        _ = try await probe.call("set", ["/abuse/probe", .binary([1]), .int(-1)])
        // A deep path for the glob bombs to chew on.
        _ = try await probe.call("set", [.string("/" + Array(repeating: "a", count: 200).joined(separator: "/")), .binary([1]), .int(-1)])
        let rss = RSSMax(daemon)
        var report: [(String, Any)] = []
        note("warm-up")
        // A second of the same calls first, so the first window measured does not also pay
        // for the daemon's and the client's warm-up (first allocations, page faults).
        _ = try await wellBehaved(probe, rss, for: 1)

        // Each kind of abuse runs in processes of its own (`sky-bench abuse-worker`), so the
        // well-behaved client's own process is not the one starved.
        let kinds = ["glob-bombs", "idle", "slow-readers", "bad-frames", "floods"]
        var worstRatio = 0.0
        var answeredThroughout = true
        var unloadedAll = Samples()
        var kindReport: [(String, Any)] = []
        for name in kinds + ["all-together"] {
            note("\(name) (\(rounds) rounds)")
            var unloaded = Samples(), abused = Samples()
            for round in 1...rounds {
                let calm = try await wellBehaved(probe, rss)
                let rough = try await underAbuse(probe, rss, kinds: name == "all-together" ? kinds : [name], port: port)
                note(String(format: "  round %d: get p99 %.2f → %.2f ms, put p99 %.2f → %.2f ms", round, calm.getP99, rough.getP99, calm.putP99, rough.putP99))
                unloaded.append(calm)
                abused.append(rough)
            }
            unloadedAll.append(unloaded)
            let key = name.replacingOccurrences(of: "-", with: "_")
            let ratio = max(abused.getP99 / max(unloaded.getP99, 0.05), abused.putP99 / max(unloaded.putP99, 0.05))
            kindReport += [
                ("\(key)_get_p99_ms", rounded(abused.getP99, 2)), ("\(key)_put_p99_ms", rounded(abused.putP99, 2)),
                ("\(key)_unloaded_get_p99_ms", rounded(unloaded.getP99, 2)), ("\(key)_unloaded_put_p99_ms", rounded(unloaded.putP99, 2)),
                ("\(key)_p99_ratio", rounded(ratio, 2)),
            ]
            worstRatio = max(worstRatio, ratio)
            answeredThroughout = answeredThroughout && unloaded.answered && abused.answered
        }
        await probe.close()
        let rssBound = 1024.0
        report += [("unloaded_get_p99_ms", rounded(unloadedAll.getP99, 2)), ("unloaded_put_p99_ms", rounded(unloadedAll.putP99, 2))]
        report += kindReport
        report += [
            ("rounds", rounds), ("seconds_per_window", seconds),
            ("worst_p99_ratio", rounded(worstRatio, 2)), ("answered_throughout", answeredThroughout),
            ("max_rss_mb", rounded(rss.maxMiB, 0)), ("rss_bound_mb", Int(rssBound)),
        ]
        return Fields(fields: report, met: worstRatio <= 3 && answeredThroughout && rss.maxMiB <= rssBound)
    }

    // MARK: The well-behaved client

    /// The well-behaved client's latencies over one or more windows.
    struct Samples {
        var gets = LatencySamples(capacity: 50_000), puts = LatencySamples(capacity: 50_000)
        /// Whether every call was answered (within its 5 s timeout).
        var answered = true

        mutating func append(_ other: Samples) {
            gets.append(other.gets)
            puts.append(other.puts)
            answered = answered && other.answered
        }

        var getP99: Double { gets.percentileMicroseconds(0.99) / 1000 }
        var putP99: Double { puts.percentileMicroseconds(0.99) / 1000 }
    }

    /// Serial gets and puts for `duration` (default `seconds`).
    private func wellBehaved(_ probe: RPCConnection, _ rss: RSSMax, for duration: Double? = nil) async throws -> Samples {
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int((duration ?? seconds) * 1000))
        var samples = Samples()
        var i = 0
        while clock.now < end {
            var start = clock.now
            do { _ = try await probe.call("get", ["/abuse/probe"], timeout: .seconds(5)) } catch { samples.answered = false }
            samples.gets.record(clock.now - start)
            start = clock.now
            do { _ = try await probe.call("set", [.string("/abuse/p/\(i % 1000)"), .binary([1, 2, 3]), .int(-1)], timeout: .seconds(5)) } catch { samples.answered = false }
            samples.puts.record(clock.now - start)
            i += 1
            if i % 64 == 0 { rss.sample() }
        }
        return samples
    }

    /// Runs abuse workers of `kinds` until the end of the phase while the well-behaved
    /// client measures.
    private func underAbuse(_ probe: RPCConnection, _ rss: RSSMax, kinds: [String], port: Int) async throws -> Samples {
        // The workers get a second's head start (connecting, filling buffers) and end with the phase.
        let workers = try kinds.map { kind -> Process in
            let process = Process()
            // The abusers share this machine's cores with skynetd and the measured client,
            // which abusers elsewhere on a network would not. Under SCHED_IDLE (every thread,
            // from exec on) they run only on otherwise idle cores: their own CPU use does
            // not count against the server; what they send still does.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/chrt")
            process.arguments = ["--idle", "0", CommandLine.arguments[0], "abuse-worker", "--kind", kind, "--port", "\(port)", "--seconds", "\(seconds + 1)",
                                 "--count", "\(kind == "idle" ? idleConnections : abusers)"]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return process
        }
        try await Task.sleep(for: .seconds(1))   // the head start itself
        let samples = try await wellBehaved(probe, rss)
        for worker in workers { worker.waitUntilExit() }
        return samples
    }

    // MARK: Scale

    struct Fields { var fields: [(String, Any)]; var met: Bool }

    /// Puts/s to an unwatched path with none and with `watchers` watchers on distinct
    /// prefixes; serial put latency when one watcher of 10 vs of `watchers` matches;
    /// commit-to-notification latency; RSS per idle watcher.
    private func watcherScale(_ daemon: DaemonProcess) async throws -> Fields {
        let port = daemon.port
        let connections = try await (0..<watcherConnections).asyncMap { _ in try await RPCConnection.connect(host: "127.0.0.1", port: port) }
        let arrivals = Arrivals()
        for (c, connection) in connections.enumerated() {
            Task { for await notification in connection.notifications where notification.method == "watch" { arrivals.record(connection: c, notification) } }
        }
        func watch(_ i: Int) async throws {
            _ = try await connections[i % connections.count].call("watch", [.uint(UInt64(i)), .string("/w/\(i)/**"), .int(0)])
        }
        // The rate with no watchers comes from a daemon of its own, so the heap this one
        // brings to the memory figure below holds nothing but what watchers left in it.
        let putsNone: Double
        do {
            let bare = try DaemonProcess()
            defer { bare.stop() }
            putsNone = try await putRate(port: bare.port, path: "/unwatched/x")
        }
        for i in 0..<10 { try await watch(i) }
        let oneOfTen = try await serialPutP50(port: port, path: "/w/3/x")
        let before = daemon.residentMiB()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slice in 0..<16 {
                group.addTask { for i in stride(from: 10 + slice, to: watchers, by: 16) { try await watch(i) } }
            }
            try await group.waitForAll()
        }
        let after = daemon.residentMiB()
        let bytesPerWatcher = (after - before) * 1_048_576 / Double(max(1, watchers - 10))
        let putsMany = try await putRate(port: port, path: "/unwatched/x")
        let oneOfMany = try await serialPutP50(port: port, path: "/w/3/x")
        // Commit to notification: a put to one watcher's prefix, until its event arrives.
        let writer = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        var latency = LatencySamples(capacity: 1000)
        for n in 0..<500 {
            let target = (n * 7919) % watchers
            let expected = arrivals.expect(connection: target % connections.count)
            let start = ContinuousClock.now
            _ = try await writer.call("set", [.string("/w/\(target)/k"), .binary([1]), .int(-1)])
            for await arrived in expected {
                latency.record(arrived - start)
                break
            }
        }
        await writer.close()
        for connection in connections { await connection.close() }
        let ratioUnwatched = putsMany / max(1, putsNone)
        let costRatio = oneOfMany / max(0.001, oneOfTen)
        let met = ratioUnwatched >= 0.8 && costRatio <= 2 && bytesPerWatcher <= 300
        return Fields(fields: [
            ("watchers", watchers),
            ("puts_per_s_no_watchers", Int(putsNone)), ("puts_per_s_with_watchers", Int(putsMany)), ("unwatched_put_ratio", rounded(ratioUnwatched, 2)),
            ("put_p50_ms_1_of_10_watchers", rounded(oneOfTen, 3)), ("put_p50_ms_1_of_all_watchers", rounded(oneOfMany, 3)), ("matching_commit_cost_ratio", rounded(costRatio, 2)),
            ("commit_to_notification_p99_ms", rounded(latency.percentileMicroseconds(0.99) / 1000, 2)),
            ("rss_bytes_per_watcher", Int(bytesPerWatcher)),
        ], met: met)
    }

    /// Pipelined puts (16 connections × 64 in flight) to one path for `seconds`: puts/s.
    private func putRate(port: Int, path: String) async throws -> Double {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
                    let done = try await withThrowingTaskGroup(of: Int.self) { inner in
                        for _ in 0..<64 {
                            inner.addTask {
                                var n = 0
                                while ContinuousClock.now < end {
                                    _ = try await connection.call("set", [.string(path), .binary([1, 2, 3, 4, 5, 6, 7, 8]), .int(-1)])
                                    n += 1
                                }
                                return n
                            }
                        }
                        return try await inner.reduce(0, +)
                    }
                    await connection.close()
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (ContinuousClock.now - start).seconds
    }

    private func serialPutP50(port: Int, path: String) async throws -> Double {
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        var samples = LatencySamples(capacity: 1000)
        for _ in 0..<1000 {
            let start = ContinuousClock.now
            _ = try await connection.call("set", [.string(path), .binary([1]), .int(-1)])
            samples.record(ContinuousClock.now - start)
        }
        await connection.close()
        return samples.percentileMicroseconds(0.5) / 1000
    }

    /// `sessions` live sessions kept alive: keepalives/s and the daemon's CPU per
    /// keepalive; then sessions left to expire: how late their files go.
    private func sessionScale(_ daemon: DaemonProcess) async throws -> Fields {
        let port = daemon.port
        let connections = try await (0..<16).asyncMap { _ in try await RPCConnection.connect(host: "127.0.0.1", port: port) }
        let ids = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for (c, connection) in connections.enumerated() {
                group.addTask {
                    var ids: [UInt64] = []
                    for _ in stride(from: c, to: sessions, by: connections.count) {
                        let answer = try await connection.call("openSession", [.int(60_000)])
                        if let id = answer["session"]?.uint64Value { ids.append(id) }
                    }
                    return ids
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        let cpuBefore = daemon.cpuSeconds()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (c, connection) in connections.enumerated() {
                group.addTask {
                    try await withThrowingTaskGroup(of: Void.self) { inner in
                        for lane in 0..<32 {
                            inner.addTask {
                                for i in stride(from: c * 32 + lane, to: ids.count, by: connections.count * 32) {
                                    _ = try await connection.call("keepAlive", [.uint(ids[i])])
                                }
                            }
                        }
                        try await inner.waitForAll()
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let cpuPerKeepalive = (daemon.cpuSeconds() - cpuBefore) / Double(max(1, ids.count)) * 1e6

        // Expiry: 2,000 sessions of 1 s with one file each, never kept alive.
        let watcher = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        let deletes = Arrivals()
        Task { for await notification in watcher.notifications where notification.method == "watch" { deletes.recordDeletes(notification) } }
        _ = try await watcher.call("watch", [.uint(1), "/expiring/**", .int(0)])
        var deadlines: [String: ContinuousClock.Instant] = [:]
        for i in 0..<2_000 {
            let connection = connections[i % connections.count]
            let answer = try await connection.call("openSession", [.int(1_000)])
            let opened = ContinuousClock.now
            guard let id = answer["session"]?.uint64Value else { continue }
            _ = try await connection.call("set", [.string("/expiring/\(i)"), .binary([1]), .int(-1), .uint(id)])
            deadlines["/expiring/\(i)"] = opened + .seconds(1)
        }
        let gone = await deletes.waitForDeletes(count: deadlines.count, timeout: .seconds(30))
        var lateness = LatencySamples(capacity: gone.count)
        for (path, at) in gone { if let deadline = deadlines[path] { lateness.record(at > deadline ? at - deadline : .zero) } }
        await watcher.close()
        for connection in connections { await connection.close() }
        return Fields(fields: [
            ("sessions", ids.count),
            ("keepalives_per_s", Int(Double(ids.count) / elapsed)),
            ("daemon_cpu_us_per_keepalive", rounded(cpuPerKeepalive, 1)),
            ("expired_sessions_seen", gone.count),
            ("expiry_lateness_p50_ms", rounded(lateness.percentileMicroseconds(0.5) / 1000, 1)),
            ("expiry_lateness_p99_ms", rounded(lateness.percentileMicroseconds(0.99) / 1000, 1)),
        ], met: gone.count == deadlines.count)
    }
}

/// The daemon's largest resident size seen.
final class RSSMax: Sendable {
    private let pid: Int32
    private let most = Mutex<Double>(0)
    init(_ daemon: DaemonProcess) { pid = daemon.child.process.processIdentifier }
    func sample() {
        let now = ChildProcess.residentMiB(pid: pid)
        most.withLock { $0 = max($0, now) }
    }
    var maxMiB: Double { most.withLock { $0 } }
}

/// When watch notifications arrived, for latency figures.
final class Arrivals: Sendable {
    private struct State {
        var expected: [Int: [AsyncStream<ContinuousClock.Instant>.Continuation]] = [:]
        var deletes: [(String, ContinuousClock.Instant)] = []
        var deleteWaiter: (Int, CheckedContinuation<[(String, ContinuousClock.Instant)], Never>)?
    }
    private let state = Mutex(State())

    /// When the next `watch` notification reaches `connection`; registered before it
    /// returns, so call it before the write that causes the notification.
    func expect(connection: Int) -> AsyncStream<ContinuousClock.Instant> {
        let (stream, continuation) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
        state.withLock { $0.expected[connection, default: []].append(continuation) }
        return stream
    }

    func record(connection: Int, _ notification: RPCNotification) {
        let now = ContinuousClock.now
        let waiters = state.withLock { $0.expected.removeValue(forKey: connection) ?? [] }
        for waiter in waiters {
            waiter.yield(now)
            waiter.finish()
        }
    }

    func recordDeletes(_ notification: RPCNotification) {
        let now = ContinuousClock.now
        let events = notification.params.count == 2 ? notification.params[1].arrayValue ?? [] : []
        let ready = state.withLock { state -> (CheckedContinuation<[(String, ContinuousClock.Instant)], Never>, [(String, ContinuousClock.Instant)])? in
            for event in events where event["kind"]?.stringValue == "delete" {
                if let path = event["path"]?.stringValue { state.deletes.append((path, now)) }
            }
            guard let (count, waiter) = state.deleteWaiter, state.deletes.count >= count else { return nil }
            state.deleteWaiter = nil
            return (waiter, state.deletes)
        }
        if let (waiter, deletes) = ready { waiter.resume(returning: deletes) }
    }

    /// The deletes seen once `count` arrived, or what arrived by `timeout`.
    func waitForDeletes(count: Int, timeout: Duration) async -> [(String, ContinuousClock.Instant)] {
        let timer = Task { [self] in
            try? await Task.sleep(for: timeout)
            let pending = state.withLock { state -> (CheckedContinuation<[(String, ContinuousClock.Instant)], Never>, [(String, ContinuousClock.Instant)])? in
                guard let (_, waiter) = state.deleteWaiter else { return nil }
                state.deleteWaiter = nil
                return (waiter, state.deletes)
            }
            if let (waiter, deletes) = pending { waiter.resume(returning: deletes) }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { waiter in
            let done = state.withLock { state -> [(String, ContinuousClock.Instant)]? in
                if state.deletes.count >= count { return state.deletes }
                state.deleteWaiter = (count, waiter)
                return nil
            }
            if let done { waiter.resume(returning: done) }
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
