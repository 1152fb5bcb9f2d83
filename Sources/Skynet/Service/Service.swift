import Foundation
import Logging
import MessagePack
import NIOCore
import ServiceLifecycle
import SkynetTree
import SkynetRPC
import Synchronization

/// A Skynet service: serves the delegate's methods over MessagePack-RPC, registers itself in
/// the coordinator, and keeps its registration current.
///
/// `start()` is the whole program of a service: it binds the first free port of the service
/// address range and of the admin range, opens a session, writes the `ServiceInfo`
/// ephemeral file at `/skynet/services/<name>/<version>/<region>/<host>/<port>`, and serves
/// until SIGINT or SIGTERM, an admin `stop` (`sky stop`) or a call to `stop()`; then it
/// leaves rotation, drains in-flight calls, closes its session and returns.
///
/// ```swift
/// try await Service(config: config, delegate: Echo()).start()
/// ```
///
/// Code that needs the address before serving on (tests, a program running several
/// things) calls `bind()`, which returns once the service is registered and serving in the
/// background, and later `stop()`. As a swift-service-lifecycle `Service` it also runs in
/// a `ServiceGroup` of your own: `run()` binds when needed and serves until graceful
/// shutdown.
///
/// If the coordinator goes away the service keeps serving; if its session is lost, it opens
/// a new one and registers again. From binding until `stop`, SIGUSR1 and SIGUSR2 raise and
/// lower its log level one notch.
///
/// Its registry record changes only on transitions: in or out of rotation, and why (an
/// admin's `unregister`, a failing `healthCheck`, load over `loadCeiling`). Live figures
/// never go into the tree: they are pushed each `loadInterval` to the clients calling it
/// (`LoadReport`, which their pools weigh) and answered by the admin `stats` call.
public final class Service: ServiceLifecycle.Service, Sendable {
    private enum Phase { case idle, starting, running, stopping, stopped }

    private struct State {
        var phase = Phase.idle
        var rpc: RPCServer?
        var admin: RPCServer?
        var metrics: MetricsEndpoint?
        var info: ServiceInfo?
        var session: CoordinatorSession?
        var tasks: [Task<Void, Never>] = []
        var ring = HashRing(members: [])
        var signals: LogLevelSignals?
        var tlsReload: TLSReloadOnHangup?
        var launch: Launch?
        var governor = RotationGovernor(wanted: true, limits: nil)
        var report = LoadReport(utilization: 0, cpu: 0, inFlight: 0, callsPerSecond: 0, meanLatencyMs: 0, p99LatencyMs: 0)
        var window = LoadWindow(cores: ProcessInfo.processInfo.activeProcessorCount)
        var checking = false
        /// The newest record may not be in the tree (its write failed or is under way).
        var stale = false
    }

    /// How `start` asked `run` to launch.
    private struct Launch {
        var register = true
        var onServing: (@Sendable (ServiceInfo) async -> Void)?
    }

    /// The configuration the service runs with.
    public let config: ServiceConfig
    /// The coordinator client the service registers through.
    public let coordinator: CoordinatorClient
    private let delegate: any ServiceProtocol
    private let state = Mutex(State())
    private let logger: Mutex<Logger>
    private let stats = ServiceStats()
    private let reporter = LoadReporter()
    private let gate = PublishGate()
    private let stopped = Mutex<[CheckedContinuation<Void, Never>]>([])
    /// How often load is sampled and pushed to the clients calling the instance.
    public let loadInterval: Duration
    /// How long `stop` keeps serving after leaving rotation, so clients following the
    /// registry move their calls away before the server drains and closes connections.
    public let drainDelay: Duration

    /// Creates a service; nothing is bound until `start`.
    public init(
        config: ServiceConfig, delegate: some ServiceProtocol, loadInterval: Duration = .seconds(1),
        drainDelay: Duration = .milliseconds(250)
    ) {
        self.config = config
        self.delegate = delegate
        self.loadInterval = loadInterval
        self.drainDelay = drainDelay
        logger = Mutex(config.logger)
        coordinator = CoordinatorClient(configuration: .init(addresses: config.coordinators, callTimeout: config.coordinatorTimeout, tls: config.tls, token: config.token), logger: config.logger)
    }

    /// The instance record as last published (nil before `start`).
    public var info: ServiceInfo? { state.withLock { $0.info } }

    /// The service's logger, at the level set by `logLevel` and SIGUSR1/SIGUSR2.
    public var log: Logger { logger.withLock { $0 } }

    /// Binds, registers and serves until SIGINT or SIGTERM, an admin `stop` or `stop()`, then
    /// stops gracefully and returns.
    ///
    /// While no coordinator answers, the service waits for one (logging a warning) and
    /// registers as soon as it can, so a service may start before the coordinator does.
    /// `onServing` runs once the instance is registered, with its record (its address and
    /// registry path); standard output is flushed after it, so a supervisor reading a line
    /// printed there sees it at once. With `register: false` the instance runs out of
    /// rotation until an admin `register` (`sky register`).
    ///
    /// Throws `ServiceConfigError` naming the range when no port in it is free, or the
    /// coordinator's error when it refuses the registration. To handle signals yourself, or
    /// to run beside other services, put the service in a `ServiceGroup` instead.
    public func start(register: Bool = true, onServing: (@Sendable (ServiceInfo) async -> Void)? = nil) async throws {
        state.withLock { $0.launch = Launch(register: register, onServing: onServing) }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: self, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: log))
        try await group.run()
    }

    /// Binds, registers (unless `register` is false: running but out of rotation) and returns
    /// the instance record while the service serves in the background until `stop()`.
    ///
    /// Unlike `start`, it does not wait for an absent coordinator: it throws the
    /// coordinator's error (`Unavailable`), or `ServiceConfigError` naming the range when no
    /// port in it is free. It installs no SIGINT/SIGTERM handling; call `stop()` yourself.
    @discardableResult
    public func bind(register: Bool = true) async throws -> ServiceInfo {
        try await launch(register: register, waitForCoordinator: false)
    }

    private func launch(register: Bool, waitForCoordinator: Bool) async throws -> ServiceInfo {
        try state.withLock { state in
            guard state.phase == .idle else { throw RPCError(.unavailable, "service already started") }
            state.phase = .starting
        }
        // Asked for /metrics: swift-metrics is bootstrapped before any series is made.
        let registry = config.metricsAddress != nil ? PrometheusExport.registry : nil
        var router = RPCRouter()
        delegate.registerMethods(&router)
        RPCMethodMetrics(server: config.name).instrument(&router)
        let reporter = self.reporter
        router.onNotification(LoadReport.subscribe) { _, context in reporter.subscribe(context.connection) }
        let stats = self.stats
        router.wrapMethods { _, handler in
            { params, context in
                stats.begin()
                let start = ContinuousClock.now
                do {
                    let result = try await handler(params, context)
                    stats.end(seconds: (ContinuousClock.now - start).seconds, failed: false)
                    return result
                } catch {
                    stats.end(seconds: (ContinuousClock.now - start).seconds, failed: true)
                    throw error
                }
            }
        }
        let rpc: RPCServer, port: Int
        do {
            (rpc, port) = try await Self.bind(config.serviceAddress, field: "serviceAddress", router: router, skipping: nil, tls: config.tls, auth: config.token != nil, insecure: config.insecure, logger: log)
        } catch {
            state.withLock { $0.phase = .idle }
            throw error
        }
        let admin: RPCServer, adminPort: Int
        do {
            (admin, adminPort) = try await Self.bind(config.adminAddress, field: "adminAddress", router: AdminMethods.router(for: self), skipping: port, tls: config.tls, auth: config.token != nil, insecure: config.insecure, logger: log)
        } catch {
            await rpc.shutdown()
            state.withLock { $0.phase = .idle }
            throw error
        }
        var info = ServiceInfo(
            uuid: UUID().uuidString, name: config.name, version: config.version, region: config.region, host: config.host,
            serviceAddress: "\(advertised(config.serviceAddress.host)):\(port)", adminAddress: "\(advertised(config.adminAddress.host)):\(adminPort)",
            pid: getpid(), started: stats.started, registered: register)
        let governor = RotationGovernor(wanted: register, limits: config.rotationLimits)
        info.outOfRotation = governor.outOfRotation
        if let address = config.metricsAddress, let registry {
            do {
                let endpoint = try await MetricsEndpoint.start(address, registry: registry)
                state.withLock { $0.metrics = endpoint }
                // Advertised in the record, so a Prometheus can discover what to scrape.
                info.metadata["metrics"] = "\(advertised(address.host)):\(endpoint.port)"
                log.info("metrics at http://\(address.host):\(endpoint.port)/metrics")
            } catch {
                await rpc.shutdown()
                await admin.shutdown()
                state.withLock { $0.phase = .idle }
                throw ServiceConfigError(field: "metricsAddress", "cannot listen on \(address): \(error)")
            }
        }
        state.withLock { state in
            state.rpc = rpc
            state.admin = admin
            state.info = info
            state.governor = governor
        }
        await delegate.started(self)
        do {
            try await publishFirst(info, waitForCoordinator: waitForCoordinator)
        } catch {
            await shutdownServers()
            state.withLock { state in
                state = State()
            }
            throw error
        }
        let signals = LogLevelSignals(service: self)
        let tlsReload = config.tls.map { TLSReloadOnHangup($0, logger: log) }
        state.withLock { state in
            state.phase = .running
            state.signals = signals
            state.tlsReload = tlsReload
        }
        // One line a person or a supervisor can read: where it serves, and where it registered.
        log.info("serving \(info.serviceAddress) (admin \(info.adminAddress)), \(register ? "registered" : "out of rotation") at \(config.instancePath(port: port))")
        if register { await delegate.registered(self) }
        startBackgroundTasks()
        return info
    }

    /// Puts the service back in rotation, as far as the admin is concerned: it stays out
    /// while its health check fails or its load is over the ceiling.
    public func register() async throws {
        try await setWanted(true)
    }

    /// Takes the service out of rotation without stopping it.
    public func unregister() async throws {
        try await setWanted(false)
    }

    /// True when this instance owns `key` among the registered instances of its name and version.
    public func isMine(_ key: String) -> Bool {
        guard let address = info?.serviceAddress else { return false }
        return state.withLock { $0.ring.owner(of: key) } == address
    }

    /// Stops: out of rotation (then `drainDelay` for clients to move away), in-flight calls
    /// drained (up to 10 s), session closed (its registration goes at once), servers
    /// closed. Safe to call more than once.
    public func stop() async {
        let proceed = state.withLock { state -> Bool in
            guard state.phase == .running || state.phase == .starting else { return false }
            state.phase = .stopping
            return true
        }
        guard proceed else {
            await waitUntilStopped()
            return
        }
        log.info("service stopping")
        let wasIn = info?.registered == true
        if (try? await setWanted(false, detail: "stopping")) != nil, wasIn {
            // Calls already on their way still land; new ones go elsewhere meanwhile.
            try? await Task.sleep(for: drainDelay)
        }
        let rpc = state.withLock { $0.rpc }
        await rpc?.shutdown(gracePeriod: .seconds(10))
        let (session, tasks, signals, tlsReload) = state.withLock { ($0.session, $0.tasks, $0.signals, $0.tlsReload) }
        tlsReload?.cancel()
        for task in tasks { task.cancel() }
        signals?.cancel()
        try? await session?.close()
        await state.withLock { $0.admin }?.shutdown(gracePeriod: .seconds(1))
        await state.withLock { $0.metrics }?.close()
        await coordinator.close()
        await delegate.stopped(self)
        log.info("service stopped")
        let waiters = state.withLock { state in
            state.phase = .stopped
            return stopped.withLock { waiters in
                defer { waiters = [] }
                return waiters
            }
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Completes once the service has stopped (by `stop`, the admin `stop` call or a signal).
    public func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.phase == .stopped { return true }
                stopped.withLock { $0.append(continuation) }
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Binds if `bind` has not, serves until graceful shutdown (or until stopped), then
    /// stops. Like `start`, it waits for an absent coordinator; graceful shutdown while it
    /// waits ends it without error.
    public func run() async throws {
        let launch = state.withLock { $0.phase == .idle ? ($0.launch ?? Launch()) : nil }
        if let launch {
            let info: ServiceInfo
            do {
                info = try await cancelWhenGracefulShutdown {
                    try await self.launch(register: launch.register, waitForCoordinator: true)
                }
            } catch is CancellationError {
                return
            }
            await launch.onServing?(info)
            fflush(nil)
        }
        await withGracefulShutdownHandler {
            await waitUntilStopped()
        } onGracefulShutdown: {
            Task { await self.stop() }
        }
    }

    /// Moves the log level one notch: `up` is more verbose. Returns the new level.
    @discardableResult
    public func shiftLogLevel(up: Bool) -> Logger.Level {
        logger.withLock { logger in
            let levels = Logger.Level.allCases
            let index = levels.firstIndex(of: logger.logLevel) ?? 2
            logger.logLevel = levels[up ? max(0, index - 1) : min(levels.count - 1, index + 1)]
            return logger.logLevel
        }
    }

    /// Sets the log level.
    public func setLogLevel(_ level: Logger.Level) {
        logger.withLock { $0.logLevel = level }
    }

    /// The current figures, as the admin `stats` call answers them.
    public func statsSnapshot() -> ServiceStatsSnapshot {
        let (report, reason) = state.withLock { ($0.report, $0.info?.outOfRotation) }
        return stats.snapshot(report: report, outOfRotation: reason)
    }

    /// The last load sample, as pushed to the clients calling the instance.
    public var loadReport: LoadReport { state.withLock { $0.report } }

    // MARK: Internals

    private func setWanted(_ wanted: Bool, detail: String? = nil) async throws {
        guard info != nil else { throw RPCError(.unavailable, "service not started") }
        let change = state.withLock { $0.governor.setWanted(wanted, detail: detail) }
        try await apply(change)
    }

    /// Writes the record when the reason the instance is out of rotation changed (`change`
    /// is nil when it did not), and tells the delegate when it entered or left rotation.
    private func apply(_ change: OutOfRotation??) async throws {
        guard case .some(let reason) = change else { return }
        let (before, after) = state.withLock { state -> (Bool, ServiceInfo?) in
            guard var info = state.info else { return (false, nil) }
            let before = info.registered
            info.registered = reason == nil
            info.outOfRotation = reason
            state.info = info
            return (before, info)
        }
        guard let after else { return }
        if let reason {
            log.notice("out of rotation (\(reason.cause.rawValue)): \(reason.detail)")
        } else {
            log.notice("in rotation")
        }
        try await publishLatest()
        if before != after.registered {
            if after.registered { await delegate.registered(self) } else { await delegate.unregistered(self) }
        }
    }

    /// The first registration; while no coordinator answers and `waitForCoordinator` holds,
    /// tries again with backoff (a graceful shutdown meanwhile cancels the wait).
    private func publishFirst(_ info: ServiceInfo, waitForCoordinator: Bool) async throws {
        var wait = Duration.milliseconds(100)
        var warned = false
        while true {
            do {
                return try await publish(info, newSession: true)
            } catch let error as RPCError where waitForCoordinator && [.unavailable, .deadlineExceeded].contains(error.code) {
                if !warned {
                    log.warning(
                        "no coordinator answers; serving unregistered until one does",
                        metadata: ["service.coordinators": "\(config.coordinators.joined(separator: ","))", "error": "\(error.message)"])
                    warned = true
                }
                try await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(2))
            }
        }
    }

    /// Writes the newest record; one that could not be written is tried again on the next
    /// load sample, so a coordinator that was briefly away still ends up with the truth.
    private func publishLatest() async throws {
        // The newest record is written last, whatever order the changes raced in.
        try await gate.run {
            guard let latest = self.info else { return }
            state.withLock { $0.stale = true }
            try await publish(latest, newSession: false)
            state.withLock { state in
                if state.info == latest { state.stale = false }
            }
        }
    }

    /// Writes the instance file, opening a session first when asked.
    private func publish(_ info: ServiceInfo, newSession: Bool) async throws {
        var session = state.withLock { $0.session }
        if newSession || session == nil || session?.isEnded == true {
            session = try await coordinator.openSession(ttl: config.sessionTTL)
            state.withLock { $0.session = session }
        }
        guard let session, let port = info.port else { return }
        try await coordinator.set(config.instancePath(port: port), try MessagePackEncoder().encode(info), session: session.id)
    }

    /// The host callers should dial: the bind host, unless it binds every interface, in
    /// which case the configured `host` (set it with -host to a name callers can reach).
    private func advertised(_ bindHost: String) -> String {
        ["0.0.0.0", "::", ""].contains(bindHost) ? config.host : bindHost
    }

    private func startBackgroundTasks() {
        let interval = loadInterval, healthInterval = config.healthCheckInterval
        let loadTask = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                await self.sampleLoad()
                try? await Task.sleep(for: interval)
            }
        }
        let healthTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: healthInterval)
                guard let self, !Task.isCancelled else { return }
                await self.checkHealth()
            }
        }
        let sessionTask = Task { [weak self] in
            guard let self else { return }
            await self.keepRegistered()
        }
        let ringTask = Task { [weak self] in
            guard let self else { return }
            await self.followOwnership()
        }
        state.withLock { $0.tasks += [loadTask, healthTask, sessionTask, ringTask] }
    }

    /// One load sample: the report pushed to subscribed clients, and the governor's verdict.
    private func sampleLoad() async {
        let figures = stats.figures()
        let meanLatencyMs = stats.takeWindowMeanLatencyMs()
        let now = ContinuousClock.now - stats.origin
        var report = state.withLock { state in
            let (cpu, rate) = state.window.sample(cpuSeconds: ServiceStats.cpuSeconds(), requests: figures.requests, at: now)
            return LoadReport(
                utilization: 0, cpu: cpu, inFlight: figures.inFlight, callsPerSecond: rate,
                meanLatencyMs: meanLatencyMs, p99LatencyMs: figures.p99LatencyMs)
        }
        report.utilization = delegate.load(report)
        let change = state.withLock { state in
            state.report = report
            return state.governor.loadSampled(report.utilization)
        }
        reporter.push(report)
        do {
            if change == nil, state.withLock({ $0.stale }), state.withLock({ $0.phase == .running }) {
                try await publishLatest()
            } else {
                try await apply(change)
            }
        } catch {
            log.warning("could not write the instance's rotation change", metadata: ["error": "\(error)"])
        }
    }

    /// Runs the health check with `healthCheckInterval` to answer, and applies its verdict.
    /// A check that hangs fails this round and the next ones until it returns; no second
    /// one starts beside it.
    private func checkHealth() async {
        let limit = config.healthCheckInterval
        let started = state.withLock { state in
            guard !state.checking else { return false }
            state.checking = true
            return true
        }
        guard started else {
            await applyHealth(failure: "the previous health check has not returned")
            return
        }
        // Whichever answers first, the check or the clock, is the verdict.
        let (verdicts, verdict) = AsyncStream.makeStream(of: String?.self, bufferingPolicy: .bufferingOldest(1))
        Task {
            var failure: String?
            do {
                try await self.delegate.healthCheck(self)
            } catch {
                failure = (error as? RPCError)?.message ?? "\(error)"
            }
            self.state.withLock { $0.checking = false }
            verdict.yield(failure)
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            verdict.yield("no answer within \(limit)")
        }
        var first = verdicts.makeAsyncIterator()
        let failure = await first.next() ?? nil
        timer.cancel()
        verdict.finish()
        await applyHealth(failure: failure)
    }

    private func applyHealth(failure: String?) async {
        let change = state.withLock { $0.governor.healthChecked(failure: failure) }
        do {
            try await apply(change)
        } catch {
            log.warning("could not write the instance's rotation change", metadata: ["error": "\(error)"])
        }
    }

    /// When the session is lost (the coordinator expired it while unreachable), opens a new
    /// one and registers again, backing off while the coordinator does not answer.
    private func keepRegistered() async {
        while !Task.isCancelled {
            guard let session = state.withLock({ $0.session }) else { return }
            var lost = false
            for await _ in session.lost { lost = true }
            guard lost, !Task.isCancelled, state.withLock({ $0.phase == .running }) else { return }
            log.warning("coordinator session lost; registering again")
            var wait = Duration.milliseconds(100)
            while !Task.isCancelled {
                do {
                    try await gate.run {
                        guard let info = self.info else { return }
                        try await publish(info, newSession: true)
                    }
                    log.notice("registered again with a new coordinator session")
                    break
                } catch {
                    try? await Task.sleep(for: wait)
                    wait = min(wait * 2, .seconds(2))
                }
            }
        }
    }

    /// Keeps the key-affinity ring of this service's registered instances, telling the
    /// delegate which key ranges moved.
    private func followOwnership() async {
        let query = Query(service: config.name, version: config.version, registered: true)
        while !Task.isCancelled {
            do {
                for try await instances in query.watch(coordinator) {
                    let ring = HashRing(members: instances.map(\.serviceAddress))
                    let old = state.withLock { $0.ring }
                    guard old != ring else { continue }
                    let mine = info?.serviceAddress
                    let moves = old.moves(to: ring).filter { $0.from == mine || $0.to == mine }
                    // The delegate hears of a move before isMine reflects it.
                    if !moves.isEmpty { await delegate.keysMoved(self, moves) }
                    state.withLock { $0.ring = ring }
                }
            } catch {}
            // After an error, or a watch that ended (its client closed): never spin.
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func shutdownServers() async {
        let (rpc, admin, metrics) = state.withLock { ($0.rpc, $0.admin, $0.metrics) }
        await rpc?.shutdown(gracePeriod: .seconds(1))
        await admin?.shutdown(gracePeriod: .seconds(1))
        await metrics?.close()
    }

    /// Binds the first free port of `range`; throws naming the range when none is.
    private static func bind(_ range: AddressRange, field: String, router: RPCRouter, skipping: Int?, tls: RPCTLS?, auth: Bool, insecure: Bool, logger: Logger) async throws -> (RPCServer, Int) {
        if let tls, !tls.canServe {
            throw ServiceConfigError(field: "tls", "serving TLS needs a certificate and its key (-tls-cert and -tls-key, or SKYNET_TLS_CERT and SKYNET_TLS_KEY)")
        }
        if let refusal = ExposurePolicy.refusal(
            field == "adminAddress" ? "admin calls" : "calls", host: range.host, tls: tls != nil, auth: auth, insecure: insecure,
            tlsFlags: "-tls-cert and -tls-key", authFlag: "-token", insecureFlag: "-insecure") {
            throw ServiceConfigError(field: field, refusal)
        }
        var lastError = ""
        for port in range.ports where port != skipping {
            let server = RPCServer(configuration: .init(host: range.host, port: port, tls: tls), router: router, logger: logger)
            do {
                let address = try await server.start()
                return (server, address.port ?? port)
            } catch {
                lastError = "\(error)"
                await server.shutdown()   // completes the never-started server's lifecycle
            }
        }
        throw ServiceConfigError(field: field, "no free port in \(range) (last error: \(lastError))")
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
