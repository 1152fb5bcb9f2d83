import ArgumentParser
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import MessagePack
import NIOCore
import Skynet
import SkynetTestSupport
import SkynetTimer
import SkynetRPC
import Synchronization

/// `sky-bench timer`: the timer service's create rates (RPC and HTTP) beside the
/// coordinator's own put rate, its firing lateness with a million timers pending, and its
/// memory per pending timer.
struct TimerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timer",
        abstract: "Timer service: creates/s (RPC, HTTP) vs coordinator puts/s, fire lateness with 1,000,000 pending, bytes per timer.",
        discussion: """
            Starts its own skynetd (--no-timer) and one skynet-timer (release, 127.0.0.1), so the timer
            service's memory is measured apart from the coordinator's. The callbacks land in an HTTP
            receiver inside sky-bench.

            Examples:
              sky-bench timer
              sky-bench timer --timers 100000 --spread 20
            """)

    @Option(help: "Seconds each rate phase runs.") var seconds = 5.0
    @Option(help: "Concurrent callers in the rate phases.") var callers = 256
    @Option(help: "Timers pending at once in the lateness phase.") var timers = 1_000_000
    @Option(help: "Seconds over which their due times spread.") var spread = 60.0

    private func note(_ text: String) { FileHandle.standardError.write(Data("sky-bench timer: \(text)\n".utf8)) }

    func run() async throws {
        let receiver = try await Receiver.start()
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let timer = try ChildProcess(
            "skynet-timer", ["--coordinators", "127.0.0.1:\(daemon.port)", "--http", "127.0.0.1:0", "--log-level", "warning"],
            marker: "skynet-timer serving")
        defer { timer.stop() }
        guard let httpPort = timer.firstLine.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw BenchError("unexpected skynet-timer output: \(timer.firstLine)")
        }
        var logger = Logger(label: "sky-bench")
        logger.logLevel = .critical
        var config = ClientConfig()
        config.coordinators = ["127.0.0.1:\(daemon.port)"]
        config.timeout = .seconds(30)
        let client = Client(config: config, logger: logger)
        defer { Task { await client.close() } }
        let pool = client.service(name: "skynet.timer")
        let hook = receiver.url

        note("coordinator puts")
        let coordinators = (0..<16).map { _ in CoordinatorClient(configuration: .init(addresses: ["127.0.0.1:\(daemon.port)"]), logger: logger) }
        let value = Array(repeating: UInt8(ascii: "v"), count: 160)
        let puts = try await rate { n in _ = try await coordinators[n % 16].set("/bench/puts/\(n % 10_000)", value) }
        for coordinator in coordinators { await coordinator.close() }

        note("RPC creates")
        let rpcCreates = try await rate { _ in
            let id = UUID()
            _ = try await pool.sendRaw("create", [Self.spec(timeout: 3_600_000, hook: hook), .string(id.lowercasedText)],
                                       key: TimerShards.key(TimerShards.shard(of: id)), timeout: nil, idempotent: false, retries: true)
        }

        note("HTTP creates")
        var httpConfig = HTTPClient.Configuration()
        httpConfig.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfig)
        let body = #"{"timeout": 3600000, "callback": {"transport": "http", "uri": "\#(hook)"}}"#
        let httpCreates = try await rate { _ in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(httpPort)/timer")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await http.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 16)
            guard response.status == .created else { throw BenchError("POST /timer answered \(response.status)") }
        }
        try await http.shutdown()

        // A million timers due over `spread` seconds, starting once they are all created.
        note("\(timers) timers due over \(Int(spread)) s")
        let timerBefore = timer.residentMiB(), daemonBefore = daemon.residentMiB()
        let createSeconds = Double(timers) / max(rpcCreates, 1_000) * 1.5 + 10
        let base = Self.nowMs() + Int64(createSeconds * 1000)
        let spreadMs = Int64(spread * 1000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            let timers = self.timers, callers = self.callers
            for c in 0..<callers {
                group.addTask {
                    var rng = SeededGenerator(seed: UInt64(c + 1))
                    var i = c
                    while i < timers {
                        let due = base + Int64(rng.next() % UInt64(spreadMs))
                        let id = UUID()
                        let answer = try await pool.sendRaw(
                            "create", [Self.spec(timeout: max(1, due - Self.nowMs()), hook: hook), .string(id.lowercasedText)],
                            key: TimerShards.key(TimerShards.shard(of: id)), timeout: nil, idempotent: false, retries: true)
                        // Lateness counts from the due time the service set (its clock at
                        // acceptance plus the timeout), not from when this caller sent it.
                        guard let set = answer["due"]?.int64Value else { throw BenchError("create answered without a due time") }
                        receiver.expect(id.lowercasedText, due: set)
                        i += callers
                    }
                }
            }
            try await group.waitForAll()
        }
        let createdAt = Self.nowMs()
        let timerPending = timer.residentMiB(), daemonPending = daemon.residentMiB()
        let bytesPerTimer = (timerPending - timerBefore) * 1_048_576 / Double(timers)
        let daemonBytesPerTimer = (daemonPending - daemonBefore) * 1_048_576 / Double(timers)
        if createdAt > base { note("creating took longer than planned: the first \(createdAt - base) ms of due times passed meanwhile") }

        note("waiting for the callbacks")
        let arrived = await receiver.wait(for: timers, until: base + spreadMs + 60_000)
        let lateness = receiver.lateness()
        let rpcRatio = rpcCreates / max(puts, 1)
        let report: [(String, Any)] = [
            ("scenario", "timer"),
            ("puts_per_s", Int(puts)),
            ("rpc_creates_per_s", Int(rpcCreates)),
            ("http_creates_per_s", Int(httpCreates)),
            ("rpc_creates_vs_puts", rounded(rpcRatio, 2)),
            ("timers", timers),
            ("spread_s", spread),
            ("fired", arrived),
            ("fired_early", receiver.early),
            ("fire_lateness_p50_ms", rounded(lateness.percentileMicroseconds(0.5) / 1000, 2)),
            ("fire_lateness_p99_ms", rounded(lateness.percentileMicroseconds(0.99) / 1000, 2)),
            ("fire_lateness_max_ms", rounded(lateness.percentileMicroseconds(1) / 1000, 2)),
            ("bytes_per_pending_timer", Int(bytesPerTimer)),
            ("coordinator_bytes_per_pending_timer", Int(daemonBytesPerTimer)),
            ("timer_rss_mb_pending", rounded(timerPending, 0)),
            ("targets_met", rpcRatio >= 0.5 && lateness.percentileMicroseconds(0.99) <= 10_000 && bytesPerTimer <= 300 && arrived == timers && receiver.early == 0),
            ("callers", callers),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]
        timer.stop()   // no more callbacks on their way
        await receiver.stop()
        print(JSONReport.render(report))
    }

    /// Runs `callers` loops of `call` for `seconds`; calls per second.
    private func rate(_ call: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        let callers = self.callers
        let count = try await withThrowingTaskGroup(of: Int.self) { group in
            for c in 0..<callers {
                group.addTask {
                    var n = c, done = 0
                    while clock.now < end {
                        try await call(n)
                        n += callers
                        done += 1
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(count) / (clock.now - start).seconds
    }

    static func spec(timeout: Int64, hook: String) -> MessagePackValue {
        TimerSpec(timeout: timeout, callback: .http(method: "POST", uri: hook)).wireValue()
    }

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

/// The callbacks' destination: an HTTP server that records how late each timer's callback
/// arrived after the due time the service gave it.
final class Receiver: Sendable {
    private struct State {
        var lateness = LatencySamples(capacity: 1 << 20)
        /// Each timer's due time (ms) as the service set it, by id.
        var dues: [String: Int64] = [:]
        var arrived = 0
        /// Arrivals before their due time (by this machine's clock, ms).
        var early = 0
        var waiter: (count: Int, continuation: CheckedContinuation<Void, Never>)?
    }

    private let state = Mutex(State())
    private let group: ServiceGroup
    let url: String

    private init(port: Int, group: ServiceGroup) {
        url = "http://127.0.0.1:\(port)/fired"
        self.group = group
    }

    static func start() async throws -> Receiver {
        let bound = AsyncStream<Int>.makeStream()
        let holder = Mutex<Receiver?>(nil)
        let router = Router()
        let idHeader = HTTPField.Name("x-skynet-timer-id")!
        router.post("/fired") { request, _ -> HTTPResponse.Status in
            let now = TimerBenchmark.nowMs()
            if let id = request.headers[idHeader] { holder.withLock { $0 }?.record(id: id, at: now) }
            return .ok
        }
        var logger = Logger(label: "sky-bench.receiver")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { bound.continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        // Stopped by graceful shutdown: cancelling a Hummingbird server while connections
        // arrive tripped an assertion in NIO's async writer.
        let group = ServiceGroup(services: [app], logger: logger)
        Task { try await group.run() }
        var ports = bound.stream.makeAsyncIterator()
        guard let port = await ports.next() else { throw BenchError("the receiver did not start") }
        let receiver = Receiver(port: port, group: group)
        holder.withLock { $0 = receiver }
        return receiver
    }

    /// Notes the due time the service gave timer `id`.
    func expect(_ id: String, due: Int64) {
        state.withLock { $0.dues[id] = due }
    }

    private func record(id: String, at now: Int64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            // Only the timers of the lateness phase count (not those of the rate phases).
            guard let due = state.dues.removeValue(forKey: id) else { return nil }
            let lateMs = now - due
            if lateMs < 0 { state.early += 1 }
            state.lateness.record(.milliseconds(max(0, lateMs)))
            state.arrived += 1
            guard let waiter = state.waiter, state.arrived >= waiter.count else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Waits until `count` callbacks arrived or the wall clock passes `deadline` (ms); returns how many arrived.
    func wait(for count: Int, until deadline: Int64) async -> Int {
        let timeout = Task {
            try await Task.sleep(for: .milliseconds(max(0, deadline - TimerBenchmark.nowMs())))
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter?.continuation
            }
            waiter?.resume()
        }
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.arrived >= count { return true }
                state.waiter = (count, continuation)
                return false
            }
            if done { continuation.resume() }
        }
        timeout.cancel()
        return state.withLock { $0.arrived }
    }

    func lateness() -> LatencySamples { state.withLock { $0.lateness } }

    /// Callbacks that arrived before their due time.
    var early: Int { state.withLock { $0.early } }

    func stop() async { await group.triggerGracefulShutdown() }
}
