import AsyncHTTPClient
import Foundation
import Logging
import MessagePack
import Skynet
import SkynetCoordinator
import SkynetRPC
import Synchronization

/// The `skynet.timer` service's shell: the delegate of its Skynet `Service`. It holds the
/// shards this instance owns (through `TimerEngine`), writes every change to the
/// coordinator before acknowledging it, forwards requests for other shards to their
/// owners, fires due timers and delivers their callbacks.
final class TimerNode: ServiceProtocol, Sendable {
    struct State {
        var engine: TimerEngine
        /// Shards whose owner file this instance holds, with that file's modRev.
        var held: [Int: Int64] = [:]
        var session: CoordinatorSession?
        var waiters: [Int: [CheckedContinuation<Bool, Never>]] = [:]
        var queued: [TimerEngine.Delivery] = []
        var delivering = 0
        var rng = SystemRandomNumberGenerator()
        var stopping = false
    }

    /// Most callbacks in flight at once; later ones wait their turn.
    static let maxDeliveries = 512
    /// How long a callback may take.
    static let deliveryTimeout: Duration = .seconds(10)
    /// How long a request for a shard this instance should own waits for it to be acquired.
    static let acquireWait: Duration = .seconds(3)

    let state: Mutex<State>
    /// Written into owner files: which instance holds a shard.
    let token = UUID().uuidString.lowercased()
    let clock: @Sendable () -> Int64
    let logger: Logger
    let alarm = Alarm()
    let reconcileAlarm = Alarm()
    let service = Mutex<Service?>(nil)
    let client: Client
    let http: HTTPClient

    init(client: Client, logger: Logger, clock: @escaping @Sendable () -> Int64 = TimerNode.wallClock) {
        self.client = client
        self.logger = logger
        self.clock = clock
        state = Mutex(State(engine: TimerEngine(now: clock())))
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(10))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Milliseconds since 1970: timers outlive processes, so their due times are wall-clock.
    static let wallClock: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    var coordinator: CoordinatorClient { client.coordinator }
    let batcherBox = Mutex<TreeWriteBatcher?>(nil)
    var batcher: TreeWriteBatcher {
        batcherBox.withLock { box in
            if let batcher = box { return batcher }
            let batcher = TreeWriteBatcher(coordinator: coordinator)
            box = batcher
            return batcher
        }
    }

    // MARK: ServiceProtocol

    func registerMethods(_ router: inout RPCRouter) {
        TimerMethods.register(on: &router, node: self)
    }

    func registered(_ service: Service) async { reconcileAlarm.ring() }
    func keysMoved(_ service: Service, _ moves: [KeyRangeMove]) async { reconcileAlarm.ring() }

    func stopped(_ service: Service) async {
        await shutdown()
    }

    // MARK: Requests (RPC and HTTP alike)

    /// Creates a timer (with `id` when the caller picked one), durable before it returns.
    func create(_ spec: TimerSpec, id: UUID? = nil, forwarded: Bool = false) async throws -> TimerRecord {
        let id = id ?? UUID()
        let shard = TimerShards.shard(of: id)
        guard try await owns(shard, forwarded: forwarded) else {
            return try await forward("create", [TimerMethods.wire(spec), .string(id.uuidString.lowercased())], shard: shard)
        }
        let record = TimerRecord(id: id, due: clock() + spec.timeout, spec: spec)
        try await persist(record, shard: shard)
        state.withLock { $0.engine.add(record, shard: shard) }
        alarm.ring()
        return record
    }

    /// Replaces a timer's spec and restarts its timeout; `NotFound` when unknown.
    func update(_ id: UUID, _ spec: TimerSpec, forwarded: Bool = false) async throws -> TimerRecord {
        let shard = TimerShards.shard(of: id)
        guard try await owns(shard, forwarded: forwarded) else {
            return try await forward("update", [.string(id.uuidString.lowercased()), TimerMethods.wire(spec)], shard: shard)
        }
        guard let old = state.withLock({ $0.engine.record(id) }) else { throw Self.notFound(id) }
        let record = TimerRecord(id: id, due: clock() + spec.timeout, spec: spec)
        var operations: [TreeOperation] = [try Self.setOperation(record)]
        if old.state == .failed { operations.append(.del(path: try TreePath(Self.failedPath(id)), ifRev: -1)) }
        try await write(operations, shard: shard)
        state.withLock { $0.engine.add(record, shard: shard) }
        alarm.ring()
        return record
    }

    /// Cancels a timer; `NotFound` when unknown (or already delivered or cancelled).
    func cancel(_ id: UUID, forwarded: Bool = false) async throws {
        let shard = TimerShards.shard(of: id)
        guard try await owns(shard, forwarded: forwarded) else {
            _ = try await forwardRaw("cancel", [.string(id.uuidString.lowercased())], shard: shard)
            return
        }
        guard let old = state.withLock({ $0.engine.record(id) }) else { throw Self.notFound(id) }
        var operations: [TreeOperation] = [.del(path: try TreePath(TimerShards.path(of: id)), ifRev: -1)]
        if old.state == .failed { operations.append(.del(path: try TreePath(Self.failedPath(id)), ifRev: -1)) }
        try await write(operations, shard: shard)
        state.withLock { _ = $0.engine.remove(id) }
    }

    /// A timer as it stands; `NotFound` when unknown.
    func get(_ id: UUID, forwarded: Bool = false) async throws -> TimerRecord {
        let shard = TimerShards.shard(of: id)
        guard try await owns(shard, forwarded: forwarded) else {
            return try await forward("get", [.string(id.uuidString.lowercased())], shard: shard)
        }
        guard let record = state.withLock({ $0.engine.record(id) }) else { throw Self.notFound(id) }
        return record
    }

    /// Up to `limit` timers by id after `after`: failed ones from their index, otherwise
    /// from the shards' files in the coordinator (whichever instance owns them).
    func list(state wanted: TimerState?, after: String?, limit: Int) async throws -> [TimerRecord] {
        let glob = wanted == .failed ? "\(TimerShards.root)/failed/*" : "\(TimerShards.root)/shards/*/*"
        var records: [TimerRecord] = []
        for file in try await coordinator.walk(glob) {
            guard let record = TimerRecord(encoded: file.value) else { continue }
            if let after, record.idText <= after { continue }
            if let wanted, wanted != .failed, record.state != wanted { continue }
            records.append(record)
        }
        records.sort { $0.idText < $1.idText }
        // Held timers know better than the store whether they are delivering right now.
        return records.prefix(limit).map { record in state.withLock { $0.engine.record(record.id) } ?? record }
    }

    // MARK: Ownership and forwarding

    /// True when this instance holds `shard`. A shard the ring gives this instance (or a
    /// forwarded request's shard) is waited for while it is being acquired; otherwise false
    /// (the caller forwards).
    private func owns(_ shard: Int, forwarded: Bool) async throws -> Bool {
        if state.withLock({ $0.held[shard] != nil }) { return true }
        let mine = service.withLock { $0 }?.isMine(TimerShards.key(shard)) ?? false
        guard mine || forwarded else { return false }
        if await waitUntilHeld(shard) { return true }
        throw RPCError(.unavailable, "timer shard \(shard) is moving between instances; try again")
    }

    /// Sends the request to the shard's owner (by the ring's key), marked forwarded.
    private func forwardRaw(_ method: String, _ params: [MessagePackValue], shard: Int) async throws -> MessagePackValue {
        try await client.service(name: TimerServer.serviceName).sendRaw(
            method, params + [.bool(true)], key: TimerShards.key(shard), timeout: nil, idempotent: method == "get", retries: true)
    }

    private func forward(_ method: String, _ params: [MessagePackValue], shard: Int) async throws -> TimerRecord {
        let value = try await forwardRaw(method, params, shard: shard)
        guard let record = TimerRecord(wire: value) else { throw RPCError(.internal, "\(method): the shard's owner did not answer with a timer") }
        return record
    }

    private func waitUntilHeld(_ shard: Int) async -> Bool {
        let waiter = Task {
            try? await Task.sleep(for: Self.acquireWait)
            self.resumeWaiters(shard, held: false)
        }
        defer { waiter.cancel() }
        reconcileAlarm.ring()
        return await withCheckedContinuation { continuation in
            let held = state.withLock { state -> Bool in
                if state.held[shard] != nil { return true }
                state.waiters[shard, default: []].append(continuation)
                return false
            }
            if held { continuation.resume(returning: true) }
        }
    }

    func resumeWaiters(_ shard: Int, held: Bool) {
        let waiters = state.withLock { $0.waiters.removeValue(forKey: shard) ?? [] }
        for waiter in waiters { waiter.resume(returning: held) }
    }

    // MARK: Writes

    static func failedPath(_ id: UUID) -> String { "\(TimerShards.root)/failed/\(id.uuidString.lowercased())" }

    static func setOperation(_ record: TimerRecord) throws -> TreeOperation {
        .set(path: try TreePath(TimerShards.path(of: record.id)), value: record.encoded(), ifRev: -1, session: nil)
    }

    private func persist(_ record: TimerRecord, shard: Int) async throws {
        try await write([try Self.setOperation(record)], shard: shard)
    }

    /// Writes `operations` fenced by this instance's hold on `shard`.
    func write(_ operations: [TreeOperation], shard: Int) async throws {
        let fence = TxnCompare(try TreePath(TimerShards.ownerPath(shard)), .value(Array(token.utf8)))
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for operation in operations { group.addTask { try await self.batcher.submit(operation, fence: fence) } }
                try await group.waitForAll()
            }
        } catch is FenceBroken {
            lost(shard)
            throw RPCError(.unavailable, "timer shard \(shard) moved to another instance; try again")
        }
    }

    /// This instance no longer holds `shard`: nothing of it fires here again.
    func lost(_ shard: Int) {
        state.withLock { state in
            state.held[shard] = nil
            state.engine.unload(shard: shard)
        }
        reconcileAlarm.ring()
    }

    static func notFound(_ id: UUID) -> RPCError {
        RPCError(.notFound, "no timer \(id.uuidString.lowercased()) (unknown, cancelled or delivered)")
    }
}
