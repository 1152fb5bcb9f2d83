import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import MessagePack
import NIOCore
import NIOHTTP1
import NIOPosix
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
        let (puts, _) = try await rate { n in _ = try await coordinators[n % 16].set("/bench/puts/\(n % 10_000)", value) }
        for coordinator in coordinators { await coordinator.close() }

        note("RPC creates")
        // CPU over the phase, per create, by process (timer, coordinator, this caller):
        // where a create's cost goes.
        let processes = [timer.process.processIdentifier, daemon.child.process.processIdentifier, getpid()]
        let createCPU = CPUMeter(processes)
        let (rpcCreates, created) = try await rate { _ in
            let id = UUID()
            _ = try await pool.sendRaw("create", [Self.spec(timeout: 3_600_000, hook: hook), .string(id.lowercasedText)],
                                       key: TimerShards.key(TimerShards.shard(of: id)), timeout: nil, idempotent: false, retries: true)
        }

        let cpuPerCreate = createCPU.microseconds(per: Double(created))

        note("HTTP creates")
        var httpConfig = HTTPClient.Configuration()
        httpConfig.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfig)
        let body = #"{"timeout": 3600000, "callback": {"transport": "http", "uri": "\#(hook)"}}"#
        let (httpCreates, _) = try await rate { _ in
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
        // CPU over the firing phase, per callback: where a firing's cost goes (this process
        // is idle then but for the receiver).
        let fireCPU = CPUMeter(processes)
        let arrived = await receiver.wait(for: timers, until: base + spreadMs + 60_000)
        let cpuPerFire = fireCPU.microseconds(per: Double(arrived))
        let lateness = receiver.lateness()
        let rpcRatio = rpcCreates / max(puts, 1)
        let report: [(String, Any)] = [
            ("scenario", "timer"),
            ("puts_per_s", Int(puts)),
            ("rpc_creates_per_s", Int(rpcCreates)),
            ("http_creates_per_s", Int(httpCreates)),
            ("rpc_creates_vs_puts", rounded(rpcRatio, 2)),
            ("timer_cpu_us_per_rpc_create", cpuPerCreate[0]),
            ("coordinator_cpu_us_per_rpc_create", cpuPerCreate[1]),
            ("caller_cpu_us_per_rpc_create", cpuPerCreate[2]),
            ("timers", timers),
            ("spread_s", spread),
            ("fired", arrived),
            ("fired_early", receiver.early),
            ("fire_lateness_p50_ms", rounded(lateness.percentileMicroseconds(0.5) / 1000, 2)),
            ("fire_lateness_p99_ms", rounded(lateness.percentileMicroseconds(0.99) / 1000, 2)),
            ("fire_lateness_max_ms", rounded(lateness.percentileMicroseconds(1) / 1000, 2)),
            ("timer_cpu_us_per_fire", cpuPerFire[0]),
            ("coordinator_cpu_us_per_fire", cpuPerFire[1]),
            ("receiver_cpu_us_per_fire", cpuPerFire[2]),
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

    /// Runs `callers` loops of `call` for `seconds`; calls per second and calls made.
    private func rate(_ call: @escaping @Sendable (Int) async throws -> Void) async throws -> (perSecond: Double, calls: Int) {
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
        return (Double(count) / (clock.now - start).seconds, count)
    }

    static func spec(timeout: Int64, hook: String) -> MessagePackValue {
        TimerSpec(timeout: timeout, callback: .http(method: "POST", uri: hook)).wireValue()
    }

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

/// The callbacks' destination: an HTTP/1.1 server that records how late each timer's
/// callback arrived after the due time the service gave it.
///
/// Plain NIO handlers rather than an HTTP framework: the receiver shares this machine's two
/// cores with the service it measures, and a callback's cost here is the harness's, not the
/// timer service's (a deployment's receivers run elsewhere).
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
    private let channel: any Channel
    let url: String

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        url = "http://127.0.0.1:\(port)/fired"
    }

    private static let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func start() async throws -> Receiver {
        let holder = Mutex<Receiver?>(nil)
        let arrival: @Sendable (String, Int64) -> Void = { id, at in holder.withLock { $0 }?.record(id: id, at: at) }
        // One thread: the callbacks' connections share it instead of waking each other's.
        let channel = try await ServerBootstrap(group: Self.loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ReceiverHandler(arrival: arrival))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else { throw BenchError("the receiver did not start") }
        let receiver = Receiver(channel: channel, port: port)
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

    func stop() async { try? await channel.close() }
}

/// Answers every request 200 with no body, noting the `x-skynet-timer-id` of each when its
/// head arrives.
private final class ReceiverHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let okHead = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "0"])
    private let arrival: @Sendable (String, Int64) -> Void

    init(arrival: @escaping @Sendable (String, Int64) -> Void) { self.arrival = arrival }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if let id = head.headers.first(name: "x-skynet-timer-id") { arrival(id, TimerBenchmark.nowMs()) }
        case .body:
            break
        case .end:
            context.write(wrapOutboundOut(.head(Self.okHead)), promise: nil)
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    // One flush per read burst: pipelined or back-to-back requests share a write.
    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}
