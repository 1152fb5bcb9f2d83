import Foundation
import Logging
import MessagePack
import Skynet
import SkynetRPC
import SkynetTestSupport
import Synchronization
import Testing

@Suite("Rotation governor and load windows (pure cores)")
struct RotationGovernorTests {
    @Test("load leaves after three samples over the ceiling, returns after five under the floor; between the marks resets both")
    func hysteresis() {
        var governor = RotationGovernor(wanted: true, limits: .init(ceiling: 0.9, floor: 0.6))
        #expect(governor.loadSampled(0.95) == nil)
        #expect(governor.loadSampled(0.95) == nil)
        #expect(governor.loadSampled(0.7) == nil, "between the marks: the streak starts over")
        #expect(governor.loadSampled(0.95) == nil)
        #expect(governor.loadSampled(0.95) == nil)
        let out = governor.loadSampled(0.95)
        #expect(out??.cause == .overloaded, "the third sample in a row over the ceiling takes it out")
        #expect(out??.detail.contains("90%") == true, "the reason names the ceiling: \(String(describing: out))")
        #expect(governor.loadSampled(0.99) == nil, "already out: no new write")
        for _ in 0..<4 { #expect(governor.loadSampled(0.5) == nil) }
        #expect(governor.loadSampled(0.7) == nil, "a sample between the marks: not yet")
        for _ in 0..<4 { #expect(governor.loadSampled(0.1) == nil) }
        let back = governor.loadSampled(0.1)
        #expect(back != nil && back! == nil, "five samples in a row under the floor bring it back")
    }

    @Test("the admin outranks health, health outranks load; changes only when the cause does")
    func precedence() {
        var governor = RotationGovernor(wanted: true, limits: .init(ceiling: 0.5, floor: 0.4, samplesToLeave: 1, samplesToReturn: 1))
        #expect(governor.outOfRotation == nil)
        #expect(governor.loadSampled(0.9)??.cause == .overloaded)
        #expect(governor.healthChecked(failure: "disk full")??.cause == .unhealthy)
        #expect(governor.outOfRotation?.detail == "health check failed: disk full")
        #expect(governor.healthChecked(failure: "disk still full") == nil, "same cause, no rewrite")
        #expect(governor.setWanted(false)??.cause == .unregistered)
        #expect(governor.healthChecked(failure: nil) == nil, "the admin's unregister still holds")
        #expect(governor.setWanted(true)??.cause == .overloaded, "back to the load verdict")
        let back = governor.loadSampled(0.1)
        #expect(back != nil && back! == nil)
        #expect(governor.healthChecked(failure: "timeout")??.cause == .unhealthy)
        let healed = governor.healthChecked(failure: nil)
        #expect(healed != nil && healed! == nil, "one pass brings it back")
    }

    @Test("without a ceiling load never takes an instance out")
    func noCeiling() {
        var governor = RotationGovernor(wanted: true, limits: nil)
        for _ in 0..<20 { #expect(governor.loadSampled(5) == nil) }
        #expect(governor.outOfRotation == nil)
    }

    @Test("a load window turns cumulative CPU seconds and calls into rates over the last tick")
    func window() {
        var window = LoadWindow(cores: 2)
        #expect(window.sample(cpuSeconds: 10, requests: 100, at: .seconds(1)) == (0, 0), "the first sample has no window")
        let (cpu, rate) = window.sample(cpuSeconds: 11, requests: 600, at: .seconds(2))
        #expect(cpu == 0.5 && rate == 500, "one CPU second of two cores in one second; 500 calls")
        #expect(window.sample(cpuSeconds: 20, requests: 600, at: .seconds(3)).cpu == 1, "capped at the whole machine")
        #expect(window.sample(cpuSeconds: 20, requests: 600, at: .seconds(3)) == (0, 0), "no time passed")
    }
}

@Suite("Load-aware picking (pure core)")
struct LoadAwarePickTests {
    static func report(utilization: Double, latency: Double) -> LoadReport {
        LoadReport(utilization: utilization, cpu: utilization, inFlight: 0, callsPerSecond: 0, meanLatencyMs: latency, p99LatencyMs: latency)
    }

    static func ready(_ descriptors: [InstancePool.Descriptor], configuration: InstancePool.Configuration = .init()) -> InstancePool {
        var pool = InstancePool(configuration: configuration, localRegion: "us", localHost: "h1")
        for case .connect(let address) in pool.update(descriptors) { pool.connected(address) }
        return pool
    }

    static func descriptor(_ address: String, registered: Bool = true, standby: Bool = false) -> InstancePool.Descriptor {
        .init(address: address, region: "us", host: "h1", registered: registered, standby: standby)
    }

    @Test("of two instances, the one reporting less load and latency takes the call; stale reports fall back to outstanding calls")
    func weighs() {
        var rng = SeededGenerator(seed: 11)
        var pool = Self.ready([Self.descriptor("a:1"), Self.descriptor("b:1")])
        pool.loadReported("a:1", Self.report(utilization: 0.9, latency: 20), now: .seconds(10))
        pool.loadReported("b:1", Self.report(utilization: 0.2, latency: 2), now: .seconds(10))
        #expect((0..<50).allSatisfy { _ in pool.pick(now: .seconds(11), using: &rng) == "b:1" })
        for _ in 0..<3 { pool.callStarted("b:1") }
        #expect(pool.pick(now: .seconds(11), using: &rng) == "b:1", "4 × 2.1 ms ÷ 0.8 still beats 1 × 20.1 ms ÷ 0.1")
        #expect(pool.pick(now: .seconds(16), using: &rng) == "a:1", "reports older than 5 s count for nothing: fewer calls in flight wins")
    }

    @Test("a report without latency (no calls answered lately) is unknown, not instant: utilization decides")
    func unknownLatency() {
        var rng = SeededGenerator(seed: 14)
        var pool = Self.ready([Self.descriptor("busy:1"), Self.descriptor("idle:1")])
        pool.loadReported("busy:1", Self.report(utilization: 0.95, latency: 0), now: .zero)
        pool.loadReported("idle:1", Self.report(utilization: 0.05, latency: 5), now: .zero)
        #expect((0..<50).allSatisfy { _ in pool.pick(now: .seconds(1), using: &rng) == "idle:1" }, "0 ms read as instant would make busy:1 win")
        pool.loadReported("idle:1", Self.report(utilization: 0.05, latency: 0), now: .zero)
        #expect((0..<50).allSatisfy { _ in pool.pick(now: .seconds(1), using: &rng) == "idle:1" }, "neither knows: utilization alone")
        pool.loadReported("busy:1", Self.report(utilization: 0.95, latency: 0.1), now: .zero)
        pool.loadReported("idle:1", Self.report(utilization: 0.05, latency: 5), now: .zero)
        #expect((0..<50).allSatisfy { _ in pool.pick(now: .seconds(1), using: &rng) == "busy:1" }, "both measured: 0.2 ÷ 0.05 beats 5.1 ÷ 0.95")
    }

    @Test("instances over the client's ceiling are left out while others can take the call, and used when none can")
    func ceiling() {
        var rng = SeededGenerator(seed: 12)
        var pool = Self.ready([Self.descriptor("a:1"), Self.descriptor("b:1"), Self.descriptor("c:1")], configuration: .init(loadCeiling: 0.8))
        pool.loadReported("a:1", Self.report(utilization: 0.95, latency: 1), now: .zero)
        pool.loadReported("b:1", Self.report(utilization: 0.85, latency: 1), now: .zero)
        #expect((0..<50).allSatisfy { _ in pool.pick(now: .seconds(1), using: &rng) == "c:1" })
        pool.loadReported("c:1", Self.report(utilization: 0.99, latency: 1), now: .zero)
        let fallback = Set((0..<50).compactMap { _ in pool.pick(now: .seconds(1), using: &rng) })
        #expect(!fallback.isEmpty && fallback.isSubset(of: ["a:1", "b:1", "c:1"]), "all over the ceiling: calls still go somewhere")
    }

    @Test("an instance out of rotation for load is called only when no registered one can be; other reasons never")
    func standby() {
        var rng = SeededGenerator(seed: 13)
        var pool = Self.ready([Self.descriptor("a:1"), Self.descriptor("busy:1", registered: false, standby: true), Self.descriptor("off:1", registered: false)])
        #expect((0..<50).allSatisfy { _ in pool.pick(now: .zero, using: &rng) == "a:1" })
        _ = pool.callFailed("a:1", .connectionLost, now: .zero)
        #expect((0..<50).allSatisfy { _ in pool.pick(now: .zero, using: &rng) == "busy:1" }, "the overloaded instance beats no instance")
        _ = pool.update([Self.descriptor("a:1"), Self.descriptor("off:1", registered: false)])
        #expect(pool.pick(now: .zero, using: &rng) == nil, "an unregistered or unhealthy instance is never called")
    }
}

/// A service whose health and load a test sets.
final class ControlledService: ServiceProtocol {
    let failure = Mutex<String?>(nil)
    let utilization = Mutex(0.0)

    func registerMethods(_ router: inout RPCRouter) {
        router.register("echo") { (text: String) in text }
    }

    func healthCheck(_ service: Service) async throws {
        if let failure = failure.withLock({ $0 }) { throw RPCError(.unavailable, failure) }
    }

    func load(_ report: LoadReport) -> Double { utilization.withLock { $0 } }
}

@Suite("Rotation and load reports against a live coordinator", .timeLimit(.minutes(2)))
struct RotationLiveTests {
    static func start(_ delegate: ControlledService, coordinatorPort: Int, ceiling: Double? = nil) async throws -> Service {
        var config = try ServiceConfig(
            name: "ctl", version: "1", region: "us", host: "127.0.0.1", serviceAddress: "127.0.0.1:0", adminAddress: "127.0.0.1:0",
            coordinators: ["127.0.0.1:\(coordinatorPort)"], loadCeiling: ceiling, loadFloor: ceiling.map { $0 / 2 },
            healthCheckInterval: .milliseconds(50), logger: quietLogger())
        config.coordinatorTimeout = testCoordinatorTimeout
        let service = Service(config: config, delegate: delegate, loadInterval: .milliseconds(50))
        try await service.bind()
        return service
    }

    /// The instance's record once `done` holds for it.
    static func record(_ coordinator: CoordinatorClient, until done: @escaping (ServiceInfo) -> Bool) async throws -> ServiceInfo {
        try #require(try await waitForInstances(Query(service: "ctl"), coordinator) { $0.count == 1 && done($0[0]) }.first)
    }

    @Test("a failing health check takes the instance out with its reason; passing brings it back")
    func health() async throws {
        try await withCoordinator { server, coordinator in
            let delegate = ControlledService()
            let service = try await Self.start(delegate, coordinatorPort: server.localAddress!.port!)
            delegate.failure.withLock { $0 = "database unreachable" }
            let out = try await Self.record(coordinator) { !$0.registered }
            #expect(out.outOfRotation == OutOfRotation(.unhealthy, "health check failed: database unreachable"))
            #expect(service.statsSnapshot().outOfRotation?.cause == .unhealthy, "stats says why too")
            delegate.failure.withLock { $0 = nil }
            let back = try await Self.record(coordinator) { $0.registered }
            #expect(back.outOfRotation == nil)
            await service.stop()
        }
    }

    @Test("load over the ceiling takes the instance out (pools still call it when it is the only one); under the floor brings it back")
    func overload() async throws {
        try await withCoordinator { server, coordinator in
            let port = server.localAddress!.port!
            let delegate = ControlledService()
            let service = try await Self.start(delegate, coordinatorPort: port, ceiling: 0.8)
            delegate.utilization.withLock { $0 = 0.95 }
            let out = try await Self.record(coordinator) { !$0.registered }
            #expect(out.outOfRotation?.cause == .overloaded, "\(String(describing: out.outOfRotation))")
            let client = makeClient(coordinatorPort: port)
            let pool = client.service(name: "ctl")
            #expect(try await pool.send("echo", "still", returning: String.self) == "still", "the only instance, overloaded, still answers")
            delegate.utilization.withLock { $0 = 0.1 }
            let back = try await Self.record(coordinator) { $0.registered }
            #expect(back.outOfRotation == nil)
            await client.close()
            await service.stop()
        }
    }

    @Test("a pool sends its calls to the instance reporting less load")
    func loadAwareRouting() async throws {
        try await withCoordinator { server, _ in
            let port = server.localAddress!.port!
            let busy = ControlledService(), idle = ControlledService()
            busy.utilization.withLock { $0 = 0.95 }
            idle.utilization.withLock { $0 = 0.05 }
            let a = try await Self.start(busy, coordinatorPort: port)
            let b = try await Self.start(idle, coordinatorPort: port)
            let client = makeClient(coordinatorPort: port)
            let pool = client.service(name: "ctl")
            try await warmUp(pool) { $0.loadReports().values.map(\.utilization).sorted() == [0.05, 0.95] }
            let before = pool.routing()
            for _ in 0..<200 { _ = try await pool.send("echo", "x", returning: String.self) }
            let after = pool.routing()
            func sent(_ service: Service) -> Int {
                let address = service.info!.serviceAddress
                return (after[address]?.calls ?? 0) - (before[address]?.calls ?? 0)
            }
            #expect(sent(b) >= 190 && sent(a) <= 10, "one at a time, the idle instance is the cheaper of the two: busy \(sent(a)), idle \(sent(b))")
            await client.close()
            await a.stop()
            await b.stop()
        }
    }

    @Test("an idle instance writes nothing to the tree while its load reports flow to the clients calling it")
    func idleWritesNothing() async throws {
        try await withCoordinator { server, coordinator in
            let port = server.localAddress!.port!
            let delegate = ControlledService()
            delegate.utilization.withLock { $0 = 0.25 }
            let service = try await Self.start(delegate, coordinatorPort: port)
            let before = try await coordinator.walkAtRevision("/skynet/**").revision
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: service.info!.port!)
            try await connection.notify(LoadReport.subscribe, [])
            var reports: [LoadReport] = []
            for await notification in connection.notifications where notification.method == LoadReport.notification {
                reports.append(try MessagePackDecoder().decode(LoadReport.self, from: notification.params[0]))
                if reports.count == 10 { break }
            }
            #expect(reports.count == 10 && reports.allSatisfy { $0.utilization == 0.25 }, "the service's own load figure travels: \(reports)")
            let after = try await coordinator.walkAtRevision("/skynet/**").revision
            #expect(after == before, "ten load samples and health checks, no tree write")
            await connection.close()

            let client = makeClient(coordinatorPort: port)
            let pool = client.service(name: "ctl")
            try await warmUp(pool) { !$0.loadReports().isEmpty }
            #expect(pool.loadReports()[service.info!.serviceAddress]?.utilization == 0.25, "the pool has the instance's report")
            await client.close()
            await service.stop()
        }
    }
}
