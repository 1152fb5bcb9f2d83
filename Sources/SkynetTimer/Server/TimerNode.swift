import AsyncHTTPClient
import Foundation
import Logging
import MessagePack
import NIOCore
import Skynet
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
        /// Every shard's holder (its RPC address), as the owner files say.
        var owners: [Int: String] = [:]
        var connections: [String: RPCConnection] = [:]
        var session: CoordinatorSession?
        var slots = DeliverySlots<String, TimerEngine.Delivery>(perKey: TimerNode.maxDeliveriesPerDestination, limit: TimerNode.maxDeliveries)
        /// When the fire loop will next look at the wheel (ms), if it is waiting.
        var armedWake: Int64?
        var rng = SystemRandomNumberGenerator()
        var stopping = false
    }

    /// Most callbacks in flight at once; later ones wait their turn.
    static let maxDeliveries = 1024
    /// Most callbacks in flight at once to one destination: as many as the HTTP client
    /// keeps connections to one host, so none waits inside it.
    static let maxDeliveriesPerDestination = 32
    /// Deletes of delivered timers that may wait to commit before deliveries wait for them.
    static let maxPendingDeletes = 4096
    /// How long a callback may take.
    static let deliveryTimeout: Duration = .seconds(10)
    /// The same, for async-http-client.
    static var deliveryTimeAmount: TimeAmount { .seconds(deliveryTimeout.components.seconds) }
    /// How long a request for a shard this instance should own waits for it to be acquired.
    static let acquireWait: Duration = .seconds(3)

    let state: Mutex<State>
    /// Unique to this instance (an address can be reused by a later process).
    private let token = UUID().lowercasedText

    /// This instance as owner files name it, and the write condition of each shard; fixed
    /// once the service is bound, so made once rather than on every write.
    private struct Identity {
        var address: String
        var ownerValue: [UInt8]
        var fences: [TxnCompare]
    }

    private let identityBox = Mutex<Identity?>(nil)

    private var identity: Identity? {
        if let identity = identityBox.withLock({ $0 }) { return identity }
        guard let address = service.withLock({ $0 })?.info?.serviceAddress,
              let paths = try? (0..<TimerShards.count).map({ try TreePath(TimerShards.ownerPath($0)) })
        else { return nil }
        let value = Array("\(address) \(token)".utf8)
        let identity = Identity(address: address, ownerValue: value, fences: paths.map { TxnCompare($0, .value(value)) })
        identityBox.withLock { $0 = identity }
        return identity
    }

    /// What this instance writes into the owner files of the shards it holds: its RPC
    /// address (for operators) and its token.
    var ownerValue: [UInt8] { identity?.ownerValue ?? Array("unbound \(token)".utf8) }
    let clock: @Sendable () -> Int64
    let logger: Logger
    let alarm = Alarm()
    let reconcileAlarm = Alarm()
    /// Rung when a reconcile pass ends holding every shard the ring gives this instance.
    let ready = Alarm()
    let service = Mutex<Service?>(nil)
    let client: Client
    let http: HTTPClient
    let batcher: TreeWriteBatcher
    let figures = TimerFigures()
    /// HTTP callbacks' requests without their per-timer headers and body, by callback.
    let requestTemplates = Mutex<[TimerCallback: HTTPClient.Request]>([:])
    /// Most request templates kept.
    static let maxRequestTemplates = 1024

    init(client: Client, logger: Logger, clock: @escaping @Sendable () -> Int64 = TimerNode.wallClock) {
        self.client = client
        batcher = TreeWriteBatcher(coordinator: client.coordinator)
        self.logger = logger
        self.clock = clock
        state = Mutex(State(engine: TimerEngine(now: clock())))
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2), read: Self.deliveryTimeAmount)
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: Self.maxDeliveriesPerDestination)
        // No spans: Skynet bootstraps no tracer, and the default no-op one still costs each
        // callback its URL taken apart again for span attributes (6% of a firing's CPU).
        configuration.tracing.tracer = nil
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Milliseconds since 1970: timers outlive processes, so their due times are wall-clock.
    static let wallClock: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    var coordinator: CoordinatorClient { client.coordinator }

    // MARK: ServiceProtocol

    func registerMethods(_ router: inout RPCRouter) {
        TimerMethods.register(on: &router, node: self)
    }

    func registered(_ service: Service) async { reconcileAlarm.ring() }
    func keysMoved(_ service: Service, _ moves: [KeyRangeMove]) async { reconcileAlarm.ring() }

    // MARK: Requests (RPC and HTTP alike)

    /// Creates a timer (with `id` when the caller picked one), durable before it returns.
    func create(_ spec: TimerSpec, id: UUID? = nil, forwarded: Bool = false) async throws -> TimerRecord {
        let id = id ?? UUID()
        let shard = TimerShards.shard(of: id)
        if let answer = try await routed(shard, forwarded, "create", [spec.wireValue(), .string(id.lowercasedText)]) {
            return try Self.record(answer, "create")
        }
        let record = TimerRecord(id: id, due: clock() + spec.timeout, spec: spec)
        try await write([try Self.setOperation(record)], shard: shard)
        schedule(record, shard: shard)
        return record
    }

    /// Replaces a timer's spec and restarts its timeout; `NotFound` when unknown.
    func update(_ id: UUID, _ spec: TimerSpec, forwarded: Bool = false) async throws -> TimerRecord {
        let shard = TimerShards.shard(of: id)
        if let answer = try await routed(shard, forwarded, "update", [.string(id.lowercasedText), spec.wireValue()]) {
            return try Self.record(answer, "update")
        }
        let record = TimerRecord(id: id, due: clock() + spec.timeout, spec: spec)
        try await withdraw(id, shard: shard, then: try Self.setOperation(record))
        schedule(record, shard: shard)
        return record
    }

    /// Cancels a timer; `NotFound` when unknown (or already delivered or cancelled).
    func cancel(_ id: UUID, forwarded: Bool = false) async throws {
        let shard = TimerShards.shard(of: id)
        if try await routed(shard, forwarded, "cancel", [.string(id.lowercasedText)]) != nil { return }
        try await withdraw(id, shard: shard, then: .del(path: try TreePath(TimerShards.path(of: id)), ifRev: -1))
    }

    /// Takes timer `id` out of the engine, then writes `operation` (and drops its failed
    /// index entry, if any); puts it back if the write fails. Out of the wheel before the
    /// write, so it cannot fire while it is being replaced or cancelled (an attempt already
    /// in flight still lands; its outcome is then ignored). `NotFound` when unknown.
    private func withdraw(_ id: UUID, shard: Int, then operation: TreeOperation) async throws {
        guard let old = state.withLock({ $0.engine.remove(id) }) else { throw Self.notFound(id) }
        var operations = [operation]
        if old.state == .failed { operations.append(.del(path: try TreePath(Self.failedPath(id)), ifRev: -1)) }
        do {
            try await write(operations, shard: shard)
        } catch {
            schedule(old, shard: shard)
            throw error
        }
    }

    /// A timer as it stands; `NotFound` when unknown.
    func get(_ id: UUID, forwarded: Bool = false) async throws -> TimerRecord {
        let shard = TimerShards.shard(of: id)
        if let answer = try await routed(shard, forwarded, "get", [.string(id.lowercasedText)]) {
            return try Self.record(answer, "get")
        }
        guard let record = state.withLock({ $0.engine.record(id) }) else { throw Self.notFound(id) }
        return record
    }

    /// Up to `limit` timers (in state `wanted` when given) after the timer `after`, in the
    /// store's order: failed ones by id from their index, the others by shard, then id.
    /// Reads the coordinator a page at a time and stops when the page is full, so a list
    /// costs about its page, however many timers there are. Held timers show their live
    /// state (`delivering`); others show what the store has.
    func list(_ query: TimerListQuery) async throws -> [TimerRecord] {
        let (wanted, limit) = (query.state, query.limit)
        let failedIndex = wanted == .failed
        let glob = failedIndex ? "\(TimerShards.root)/failed/*" : "\(TimerShards.root)/shards/*/*"
        var cursor = query.after.map { failedIndex ? Self.failedPath($0) : TimerShards.path(of: $0) }
        var records: [TimerRecord] = []
        while records.count < limit {
            let page = try await coordinator.walkPage(glob, after: cursor)
            for file in page.files {
                guard let stored = TimerRecord(encoded: file.value) else { continue }
                let record = state.withLock { $0.engine.record(stored.id) } ?? stored
                if let wanted, record.state != wanted { continue }
                records.append(record)
                if records.count == limit { break }
            }
            guard page.more, let last = page.files.last else { break }
            cursor = last.path.string
        }
        return records
    }

    /// Serves a request for `shard` elsewhere when its holder is another instance: returns
    /// the holder's answer, or `nil` when this instance holds the shard and serves it.
    ///
    /// The holder is the one the shard's owner file names. While the shard is between
    /// holders (no owner file yet, or one naming this instance before it has loaded), the
    /// request waits, up to `acquireWait` in all; so it does when the holder cannot be
    /// reached or has let go meanwhile, then it routes afresh. A request forwarded here is
    /// never forwarded again: it waits for this instance to hold the shard, or fails
    /// `Unavailable`.
    private func routed(_ shard: Int, _ forwarded: Bool, _ method: String, _ params: [MessagePackValue]) async throws -> MessagePackValue? {
        let deadline = ContinuousClock.now + Self.acquireWait
        let me = identity?.address
        var lastError: (any Error)?
        while true {
            let (held, owner) = state.withLock { ($0.held[shard] != nil, $0.owners[shard]) }
            if held { return nil }
            if !forwarded, let owner, owner != me {
                do {
                    let marked: [MessagePackValue] = params + [.bool(true)]
                    let connection = try await connection(to: owner)
                    let answer: MessagePackValue = try await connection.call(method, marked, timeout: .seconds(10), metadata: nil)
                    return answer
                } catch let error as RPCError where error.code != .unavailable {
                    throw error
                } catch {
                    // Unreachable, or it let go: route again after a pause.
                    state.withLock { _ = $0.connections.removeValue(forKey: owner) }
                    lastError = error
                }
            }
            guard ContinuousClock.now < deadline else {
                throw RPCError(.unavailable, "timer shard \(shard) is moving between instances; try again" + (lastError.map { " (\($0))" } ?? ""))
            }
            reconcileAlarm.ring()
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func record(_ value: MessagePackValue, _ method: String) throws -> TimerRecord {
        guard let record = TimerRecord(wire: value) else { throw RPCError(.internal, "\(method): the shard's holder did not answer with a timer") }
        return record
    }

    /// Adds a durable timer to the engine if this instance still holds its shard (if it let
    /// go meanwhile, the new holder loads it from the store).
    private func schedule(_ record: TimerRecord, shard: Int) {
        let sooner = state.withLock { state in
            guard state.held[shard] != nil else { return false }
            state.engine.add(record, shard: shard)
            // The fire loop only needs waking when this is due before it would look anyway.
            return state.armedWake.map { record.due < $0 } ?? true
        }
        if sooner { alarm.ring() }
    }

    private func connection(to address: String) async throws -> RPCConnection {
        if let connection = state.withLock({ $0.connections[address] }), connection.isActive { return connection }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw RPCError(.internal, "bad holder address \(address)")
        }
        let connection = try await RPCConnection.connect(host: String(address[..<colon]), port: port, configuration: .init(tls: client.config.tls))
        let old = state.withLock { state -> RPCConnection? in
            defer { state.connections[address] = connection }
            return state.connections[address]
        }
        if let old { await old.close() }
        return connection
    }

    // MARK: Writes

    static func failedPath(_ id: UUID) -> String { "\(TimerShards.root)/failed/\(id.lowercasedText)" }

    static func setOperation(_ record: TimerRecord) throws -> TreeOperation {
        .set(path: try TreePath(TimerShards.path(of: record.id)), value: record.encoded(), ifRev: -1, session: nil)
    }

    /// Writes `operations` fenced by this instance's hold on `shard`.
    func write(_ operations: [TreeOperation], shard: Int) async throws {
        let fence = try fence(shard)
        do {
            if operations.count == 1 {
                try await batcher.submit(operations[0], fence: fence)
            } else {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for operation in operations { group.addTask { try await self.batcher.submit(operation, fence: fence) } }
                    try await group.waitForAll()
                }
            }
        } catch is FenceBroken {
            lost(shard)
            throw RPCError(.unavailable, "timer shard \(shard) moved to another instance; try again")
        }
    }

    /// Writes `operation` under this instance's hold on `shard` without waiting for it to
    /// commit; a broken hold lets go of the shard, like `write`. Failures are otherwise the
    /// caller's to accept: only what no one waits on goes this way.
    func writeDetached(_ operation: TreeOperation, shard: Int) {
        guard let fence = try? fence(shard) else { return }
        batcher.submit(operation, fence: fence) { [weak self] error in
            if error is FenceBroken { self?.lost(shard) }
        }
    }

    /// What every write to `shard` is conditional on: its owner file still names this instance.
    func fence(_ shard: Int) throws -> TxnCompare {
        guard let identity else { throw RPCError(.unavailable, "the timer service is not serving yet") }
        return identity.fences[shard]
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
        RPCError(.notFound, "no timer \(id.lowercasedText) (unknown, cancelled or delivered)")
    }
}
