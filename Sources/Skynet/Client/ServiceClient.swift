import Logging
import MessagePack
import Metrics
import SkynetRPC
import Synchronization

/// A self-healing pool over the instances of one service: `send` picks an instance (see
/// `InstancePool`), retries what is safe to retry, and fails with `NoInstances` when no
/// instance can take the call before the deadline.
///
/// The instance set follows a registry watch; while the coordinator is away the pool
/// keeps using the instances it last knew. One deadline covers every attempt. A call is
/// retried on another instance when it cannot have run (never sent, or refused by a
/// server shutting down); a call marked `idempotent` is also retried after a lost
/// connection or an attempt timeout (each attempt gets half the time left). A retry budget
/// (20% of recent calls, plus 10 per second) stops retry storms.
///
/// Each connection asks its instance for load reports (`LoadReport`, about one a second);
/// the pool weighs instances by them and leaves out those over `ClientConfig.pool.loadCeiling`.
public final class ServiceClient: Sendable {
    private struct State {
        var pool: InstancePool
        var connections: [String: RPCConnection] = [:]
        var budget = RetryBudget()
        var rng = SystemRandomNumberGenerator()
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var closed = false
        var routing: [String: InstanceRouting] = [:]
    }

    /// The criteria the pool follows.
    public let query: Query
    private let config: ClientConfig
    private let coordinator: CoordinatorClient
    private let logger: Logger
    private let state: Mutex<State>
    private let origin = ContinuousClock.now
    private let watcher = Mutex<Task<Void, Never>?>(nil)
    private let metrics: PoolMetrics

    init(query: Query, config: ClientConfig, coordinator: CoordinatorClient, logger: Logger) {
        self.query = query
        self.config = config
        self.coordinator = coordinator
        self.logger = logger
        metrics = PoolMetrics(service: query.service ?? "*", factory: config.metricsFactory ?? MetricsSystem.factory)
        state = Mutex(State(pool: InstancePool(configuration: config.pool, localRegion: config.region, localHost: config.host)))
        // The watch keeps the pool alive until `close()` (or the client's `close()`).
        let task = Task { await self.followRegistry() }
        watcher.withLock { $0 = task }
    }

    /// Calls `method` with typed positional arguments on an instance and decodes the result.
    /// `key` routes by consistent hashing (the same key reaches the same instance while the
    /// instance set is stable). Throws the server's `RPCError`, `NoInstances`,
    /// `DeadlineExceeded` or `Unavailable`.
    public func send<each A: Encodable, R: Decodable>(
        _ method: String, _ arguments: repeat each A, returning type: R.Type = R.self,
        key: String? = nil, timeout: Duration? = nil, idempotent: Bool = false
    ) async throws -> R {
        let params = try Self.encode(repeat each arguments)
        let value = try await sendRaw(method, params, key: key, timeout: timeout, idempotent: idempotent, retries: true)
        return try Self.decode(value, as: type, method: method)
    }

    /// `send` without retries: one attempt on one instance.
    public func sendOnce<each A: Encodable, R: Decodable>(
        _ method: String, _ arguments: repeat each A, returning type: R.Type = R.self, key: String? = nil, timeout: Duration? = nil
    ) async throws -> R {
        let params = try Self.encode(repeat each arguments)
        let value = try await sendRaw(method, params, key: key, timeout: timeout, idempotent: false, retries: false)
        return try Self.decode(value, as: type, method: method)
    }

    /// Addresses of the instances that can take calls now, sorted.
    public var availableInstances: [String] {
        let now = self.now
        return state.withLock { $0.pool.available(now: now) }
    }

    /// The last load report of each instance that sent one, by service address.
    public func loadReports() -> [String: LoadReport] {
        state.withLock { state in
            Dictionary(uniqueKeysWithValues: state.pool.addresses.compactMap { address in state.pool.loadReport(of: address).map { (address, $0.report) } })
        }
    }

    /// How many calls (attempts) went to each instance address so far, and when the last one did.
    public func routing() -> [String: InstanceRouting] {
        state.withLock { $0.routing }
    }

    /// True once closed (by `close()` or its client's).
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Stops following the registry and closes every connection.
    public func close() async {
        watcher.withLock { $0?.cancel() }
        let (connections, waiters) = state.withLock { state in
            state.closed = true
            defer { state.connections = [:]; state.waiters = [:] }
            return (Array(state.connections.values), Array(state.waiters.values))
        }
        for waiter in waiters { waiter.resume() }
        for connection in connections { await connection.close() }
    }

    // MARK: Sending

    private var now: Duration { ContinuousClock.now - origin }

    package func sendRaw(_ method: String, _ params: [MessagePackValue], key: String?, timeout: Duration?, idempotent: Bool, retries: Bool) async throws -> MessagePackValue {
        var attempts = CallAttempts(now: now, timeout: timeout ?? config.timeout, idempotent: idempotent, retries: retries)
        while true {
            let (address, connection) = try await acquire(key: key, excluding: attempts.tried, deadline: attempts.deadline, deposit: attempts.isFirst)
            guard case let .attempt(attemptTimeout, retry) = attempts.start(now: now) else {
                throw RPCError(.deadlineExceeded, "\(method) on \(query.service ?? "?"): deadline passed before an answer")
            }
            do {
                // Retries say so (call metadata); first attempts go bare, as any client's would.
                let metadata = retry.map { RPCCallMetadata(timeout: attemptTimeout, attempt: $0) }
                let result = try await connection.call(method, params, timeout: attemptTimeout, metadata: metadata)
                finished(address, .answered)
                return result
            } catch let error as RPCError {
                let (health, retryable) = RetryRule.judge(error, connectionActive: connection.isActive, idempotent: idempotent)
                finished(address, health)
                let now = self.now
                guard attempts.mayRetry(retryable: retryable, now: now) else { throw error }
                guard state.withLock({ $0.budget.tryWithdraw(now: now) }) else {
                    metrics.budgetRefusals.increment()
                    throw error
                }
                metrics.retries.increment()
                logger.debug("retrying call on another instance", metadata: ["rpc.method": "\(method)", "service.instance": "\(address)", "error": "\(error)"])
                attempts.retrying(after: address)
            }
        }
    }

    private func finished(_ address: String, _ outcome: RetryRule.Health) {
        let now = self.now
        let (actions, ejected) = state.withLock { state -> ([InstancePool.Action], Bool) in
            switch outcome {
            case .answered:
                state.pool.callSucceeded(address)
                return ([], false)
            case .failed:
                let before = state.pool.isEjected(address, now: now)
                let actions = state.pool.callFailed(address, .callFailed, now: now)
                return (actions, !before && state.pool.isEjected(address, now: now))
            case .lost: return (state.pool.callFailed(address, .connectionLost, now: now), false)
            }
        }
        if ejected { metrics.ejections.increment() }
        if ejected || !actions.isEmpty { recordCensus() }
        perform(actions)
    }

    /// Brings the pool's instance gauges up to date.
    private func recordCensus() {
        let now = self.now
        metrics.record(state.withLock { $0.pool.census(now: now) })
    }

    /// An instance for the call and its connection, waiting for one until the deadline.
    /// `deposit`: this is a new call (not a retry): it pays into the retry budget, under the same lock.
    private func acquire(key: String?, excluding tried: Set<String>, deadline: Duration, deposit: Bool) async throws -> (String, RPCConnection) {
        var deposit = deposit
        while true {
            let now = self.now
            let chosen = state.withLock { state -> (String, RPCConnection)? in
                if deposit { state.budget.deposit(now: now) }
                guard let address = state.pool.pick(now: now, key: key, avoiding: tried, using: &state.rng),
                      let connection = state.connections[address] else { return nil }
                state.pool.callStarted(address)
                state.routing[address, default: InstanceRouting()].record()
                return (address, connection)
            }
            deposit = false
            if let chosen {
                metrics.picks.increment()
                return chosen
            }
            guard now < deadline, !state.withLock({ $0.closed }) else {
                metrics.noInstance.increment()
                throw RPCError("NoInstances", "no instance of \(query.glob) could take the call before the deadline")
            }
            await waitForChange(until: deadline)
        }
    }

    /// Suspends until the pool changes (an instance connects or the set changes) or the deadline.
    private func waitForChange(until deadline: Duration) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let wait = deadline - now
        await withCheckedContinuation { continuation in
            state.withLock { $0.waiters[id] = continuation }
            Task { [weak self] in
                try? await Task.sleep(for: wait)
                self?.wake(id)
            }
        }
    }

    private func wake(_ id: UInt64? = nil) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if let id { return state.waiters.removeValue(forKey: id).map { [$0] } ?? [] }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: The pool's shell

    private func followRegistry() async {
        let registered = Query(service: query.service, version: query.version, region: query.region, host: query.host)
        while !Task.isCancelled {
            do {
                for try await instances in registered.watch(coordinator) {
                    let descriptors = instances.map {
                        InstancePool.Descriptor(
                            address: $0.serviceAddress, region: $0.region, host: $0.host, registered: $0.registered,
                            standby: $0.outOfRotation?.cause == .overloaded)
                    }
                    let actions = state.withLock { $0.pool.update(descriptors) }
                    recordCensus()
                    perform(actions)
                    wake()
                }
            } catch {
                // The coordinator is away: keep the last known instances and try again.
            }
            // Also when the watch ended without an error (its client closed): never spin.
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func perform(_ actions: [InstancePool.Action]) {
        for action in actions {
            switch action {
            case .connect(let address): Task { await self.connect(address) }
            case .disconnect(let address):
                if let connection = state.withLock({ $0.connections.removeValue(forKey: address) }) {
                    Task { await connection.close() }
                }
            }
        }
    }

    private func connect(_ address: String) async {
        guard let target = HostPort(address) else { return }
        do {
            let connection = try await RPCConnection.connect(host: target.host, port: target.port, configuration: .init(connectTimeout: .seconds(1), defaultTimeout: nil, tls: config.tls), logger: logger)
            let (kept, replaced) = state.withLock { state -> (Bool, RPCConnection?) in
                guard !state.closed, state.pool.connectionState(of: address) == .connecting else { return (false, nil) }
                let replaced = state.connections.updateValue(connection, forKey: address)
                state.pool.connected(address)
                return (true, replaced)
            }
            recordCensus()
            guard kept else {
                await connection.close()
                return
            }
            // A connection the instance refused calls on (it was draining) is not reused.
            if let replaced, replaced !== connection { Task { await replaced.close() } }
            wake()
            // Load reports come on this connection; an instance that does not send them
            // ignores the request (any MessagePack-RPC server drops unknown notifications).
            try? await connection.notify(LoadReport.subscribe, [])
            Task {
                for await notification in connection.notifications where notification.method == LoadReport.notification {
                    guard let value = notification.params.first, let report = try? MessagePackDecoder().decode(LoadReport.self, from: value) else { continue }
                    let now = self.now
                    self.state.withLock { $0.pool.loadReported(address, report, now: now) }
                }
                // The stream ends when the connection does: the moment it breaks, the instance leaves rotation.
                let actions = self.state.withLock { state -> [InstancePool.Action] in
                    guard state.connections[address] === connection else { return [] }
                    state.connections[address] = nil
                    return state.pool.connectionLost(address)
                }
                self.recordCensus()
                self.perform(actions)
            }
        } catch {
            let now = self.now
            let delay = state.withLock { state in state.pool.connectFailed(address, now: now, using: &state.rng) }
            guard let delay else { return }
            recordCensus()
            try? await Task.sleep(for: delay)
            perform(state.withLock { $0.pool.backoffElapsed(address, now: self.now) })
        }
    }

    private static func encode<each A: Encodable>(_ arguments: repeat each A) throws -> [MessagePackValue] {
        let encoder = MessagePackEncoder()
        var params: [MessagePackValue] = []
        for argument in repeat each arguments { params.append(try encoder.encodeToValue(argument)) }
        return params
    }

    private static func decode<R: Decodable>(_ value: MessagePackValue, as type: R.Type, method: String) throws -> R {
        do {
            return try MessagePackDecoder().decode(type, from: value)
        } catch {
            throw RPCError(.badRequest, "result of \(method): \((error as? DecodingError)?.messagePackDescription ?? "\(error)")")
        }
    }
}

/// Calls a `ServiceClient` sent to one instance.
public struct InstanceRouting: Hashable, Sendable {
    /// Attempts sent to it.
    public var calls = 0
    /// When the first one was sent.
    public var firstCall: ContinuousClock.Instant?
    /// When the last one was sent.
    public var lastCall: ContinuousClock.Instant?

    mutating func record() {
        let now = ContinuousClock.now
        calls += 1
        if firstCall == nil { firstCall = now }
        lastCall = now
    }
}
