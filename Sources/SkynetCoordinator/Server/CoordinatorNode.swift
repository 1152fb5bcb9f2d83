import SkynetTree
import Dispatch
import Logging
import MessagePack
import SkynetRPC
import Synchronization

/// A coordinator node: the shell around the state machine, the watch hub and the session
/// leases, fed by a `Consensus`.
///
/// Writes are proposed to the consensus and answered once their entry is committed and
/// applied, so a write is acknowledged only when durable, and reads (served from applied
/// state under a short lock, on the caller's thread) never see anything that could be
/// lost. Committed entries are applied on the consensus's thread, in order; watch events
/// go out to connections as pre-encoded notifications, one write per connection per batch.
public final class CoordinatorNode: Sendable {
    struct Pending {
        var command: CoordinatorCommand
        var waiter: Waiter?
        var proposedAt: ContinuousClock.Instant
    }

    /// Who is told a write's result.
    enum Waiter {
        case task(CheckedContinuation<CommandResult, any Error>)
        case callback(@Sendable (Result<CommandResult, RPCError>) -> Void)
        /// A transaction's caller, told its `TxnResult` (no closure in between per write).
        case txn(@Sendable (Result<TxnResult, RPCError>) -> Void)

        func resume(_ result: Result<CommandResult, RPCError>) {
            switch (self, result) {
            case (.task(let continuation), .success(let value)): continuation.resume(returning: value)
            case (.task(let continuation), .failure(let error)): continuation.resume(throwing: error)
            case (.callback(let callback), _): callback(result)
            case (.txn(let callback), .success(.txn(let value))): callback(.success(value))
            case (.txn(let callback), .success): callback(.failure(RPCError(.internal, "txn produced an unexpected result")))
            case (.txn(let callback), .failure(let error)): callback(.failure(error))
            }
        }
    }

    /// Writes proposed and not yet applied, under a lock of their own: proposing never
    /// waits for the apply thread, which holds the state's lock for a whole batch.
    struct Proposals: ~Copyable {
        var pending: [UInt64: Pending] = [:]
        /// Why the log takes no more writes, once it failed.
        var failure: String?

        /// Proposes `command` (`data` encoded) through `consensus` for `waiter`; the
        /// refusal, if any. Proposal and entry go together under the lock, so a batch
        /// never reaches the apply thread before its waiters are in `pending`.
        mutating func propose(_ command: CoordinatorCommand, _ data: [UInt8], _ waiter: Waiter?, consensus: any Consensus, limit: Int) -> RPCError? {
            if let failure { return RPCError(.unavailable, failure) }
            guard pending.count < limit else {
                return RPCError(.resourceExhausted, "\(limit) writes are already waiting for the log; retry shortly")
            }
            do {
                let index = try consensus.propose(data)
                pending[index] = Pending(command: command, waiter: waiter, proposedAt: .now)
                return nil
            } catch {
                return RPCError(.unavailable, "\(error)")
            }
        }
    }

    struct State: ~Copyable {
        var replica: CoordinatorReplica
        /// Which connection holds which watch.
        var watchers: WatchConnections
        /// Told when the next session deadline comes earlier than the time its timer is
        /// armed for (`SessionLeases` decides), so the shell keeps one timer armed.
        var expiryAlarm: (@Sendable (Duration) -> Void)?
        var snapshots: SnapshotSchedule
    }

    /// The configuration in force.
    public let configuration: CoordinatorNodeConfiguration
    private let directory: DataDirectory
    private let consensus: any Consensus
    private let state: Mutex<State>
    private let proposals = Mutex(Proposals())
    private let logger: Logger
    private let now: @Sendable () -> Duration
    private let snapshotQueue = DispatchQueue(label: "skynet.snapshot", qos: .utility)
    private let walkQueue = DispatchQueue(label: "skynet.walk", qos: .background)
    private let metrics = CoordinatorMetrics()

    /// Opens the data directory (taking its lock), recovers snapshot and log, and starts
    /// committing. Throws `StorageError` when the directory is locked or damaged.
    public static func open(
        configuration: CoordinatorNodeConfiguration, logger: Logger,
        now: @escaping @Sendable () -> Duration = CoordinatorNode.monotonicNow()
    ) throws -> CoordinatorNode {
        let directory = try DataDirectory(path: configuration.dataDirectory)
        let recovered = try WALRecovery.recover(directory, logger: logger)
        var machine = CoordinatorStateMachine(limits: configuration.treeLimits)
        var history: [TreeEvent] = []
        if let snapshot = recovered.snapshot {
            (machine, history) = try CoordinatorSnapshot.read(snapshot.path, limits: configuration.treeLimits)
            guard machine.appliedIndex == snapshot.index else {
                throw StorageError.corrupt(path: snapshot.path, offset: 0, reason: "snapshot holds index \(machine.appliedIndex), its name says \(snapshot.index)")
            }
        }
        let start = now()
        var replica = CoordinatorReplica(machine: machine, history: history, watchLimits: configuration.watchLimits, now: start)
        for entry in recovered.entries {
            let command: CoordinatorCommand
            do {
                command = try CoordinatorCommand(encoded: entry.data, limits: configuration.treeLimits)
            } catch {
                throw StorageError.corrupt(path: directory.path, offset: 0, reason: "log entry \(entry.index) does not decode: \(error)")
            }
            _ = replica.apply(command, at: entry.index, now: start)
        }
        machine = replica.machine
        let log = try WriteAheadLog(directory: directory, lastIndex: recovered.lastIndex, segmentName: recovered.segmentName, logger: logger)
        let node = CoordinatorNode(
            configuration: configuration, directory: directory, consensus: SingleNodeConsensus(log: log),
            replica: replica,
            snapshots: SnapshotSchedule(
                minimumEntries: configuration.snapshotEvery, lastIndex: recovered.snapshot?.index ?? 0,
                lastSize: (try? recovered.snapshot.map { try PosixFile.size($0.path) } ?? 0) ?? 0),
            logger: logger, now: now)
        logger.info("coordinator recovered", metadata: [
            "coordinator.snapshot_index": "\(recovered.snapshot?.index ?? 0)", "coordinator.replayed": "\(recovered.entries.count)",
            "coordinator.revision": "\(machine.tree.revision)", "coordinator.files": "\(machine.tree.fileCount)",
            "coordinator.sessions": "\(machine.sessions.count)",
        ])
        return node
    }

    private init(
        configuration: CoordinatorNodeConfiguration, directory: DataDirectory, consensus: any Consensus,
        replica: CoordinatorReplica, snapshots: SnapshotSchedule, logger: Logger,
        now: @escaping @Sendable () -> Duration
    ) {
        self.configuration = configuration
        self.directory = directory
        self.consensus = consensus
        self.logger = logger
        self.now = now
        state = Mutex(State(replica: replica, watchers: WatchConnections(maxWatchesPerConnection: configuration.maxWatchesPerConnection), snapshots: snapshots))
        consensus.start(
            apply: { [weak self] entries in self?.applyCommitted(entries) },
            fail: { [weak self] entries, error in self?.failCommitted(entries, error) })
    }

    /// The default clock: time since the process started, from a monotonic clock.
    public static func monotonicNow() -> @Sendable () -> Duration {
        let origin = ContinuousClock.now
        return { ContinuousClock.now - origin }
    }

    // MARK: Writes

    /// Proposes `command` and returns its result once it is committed and applied.
    /// Throws the command's `RPCError` (for instance `RevMismatch`), or `Unavailable` when
    /// the log cannot take writes.
    public func write(_ command: CoordinatorCommand) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            write(command, checking: [], .task(continuation))
        }
    }

    /// Proposes `command` after checking `operations` as `precheck` does, and tells
    /// `completion` its result once committed and applied (on the log's thread, with the
    /// rest of its batch: keep it short) or at once when it is refused.
    public func write(_ command: CoordinatorCommand, checking operations: [TreeOperation], completion: @escaping @Sendable (Result<CommandResult, RPCError>) -> Void) {
        write(command, checking: operations, .callback(completion))
    }

    /// Proposes a transaction after checking both branches as `precheck` does, and tells
    /// `completion` its result as `write(_:checking:completion:)` does.
    func writeTxn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation], completion: @escaping @Sendable (Result<TxnResult, RPCError>) -> Void) {
        if let refusal = precheck(success) ?? precheck(failure) {
            completion(.failure(refusal))
            return
        }
        write(.txn(compares: compares, success: success, failure: failure), checking: [], .txn(completion))
    }

    private func write(_ command: CoordinatorCommand, checking operations: [TreeOperation], _ waiter: Waiter) {
        if let refusal = precheck(operations) {
            waiter.resume(.failure(refusal))
            return
        }
        let data = command.encoded
        let limit = configuration.maxPendingWrites
        if let refusal = proposals.withLock({ $0.propose(command, data, waiter, consensus: consensus, limit: limit) }) {
            waiter.resume(.failure(refusal))
        }
    }

    /// The refusal of the first operation that fails `precheck`. The state's lock is taken
    /// only when a session's liveness must be looked up.
    private func precheck(_ operations: [TreeOperation]) -> RPCError? {
        var sessions = false
        for operation in operations {
            do throws(TreeError) { try operation.validate(limits: configuration.treeLimits) } catch { return error.rpcError }
            if case .set(_, _, _, _?) = operation { sessions = true }
        }
        guard sessions else { return nil }
        return state.withLock { state in
            for case let .set(_, _, _, session?) in operations where !state.replica.leases.isLive(session) {
                return CoordinatorError.sessionNotFound(session).rpcError
            }
            return nil
        }
    }

    /// Checks an operation before it is logged: bad paths, oversized values and unknown
    /// sessions are refused without taking a log entry.
    public func precheck(_ operation: TreeOperation) throws(RPCError) {
        if let refusal = precheck([operation]) { throw refusal }
    }

    /// Renews a session's lease; returns its TTL. Throws `SessionNotFound` when it expired.
    public func keepAlive(_ session: UInt64) throws(RPCError) -> Duration {
        let ttl = state.withLock { $0.replica.leases.renew(session, now: now()) }
        guard let ttl else { throw CoordinatorError.sessionNotFound(session).rpcError }
        return ttl
    }

    // MARK: Reads

    /// Runs `body` on the applied state under the node's lock; keep it short.
    public func read<T>(_ body: (borrowing CoordinatorStateMachine) throws -> T) rethrows -> T {
        try state.withLock { state in try body(state.replica.machine) }
    }

    /// One page of a walk, at the revision it reports. The tree is copied under the lock
    /// (O(1): its tables are persistent) and walked outside it, one walk at a time on a
    /// queue of its own: a walk over a large tree, or a pathological glob, delays neither
    /// writes nor other reads, and takes at most one core however many arrive at once.
    public func walk(_ glob: TreeGlob, after: TreePath?, maxBytes: Int) async -> (revision: Int64, files: [TreeFile], more: Bool) {
        let tree = state.withLock { $0.replica.machine.tree }
        return await withCheckedContinuation { continuation in
            walkQueue.async {
                let page = tree.walk(glob, after: after, maxBytes: maxBytes)
                continuation.resume(returning: (tree.revision, page.files, page.more))
            }
        }
    }

    /// The node's view of itself.
    public func status() -> CoordinatorStatus {
        let stats = consensus.stats
        let dataSize = ((try? directory.segments().map(\.name)) ?? []).map(directory.file)
            + ((try? directory.snapshots().map(\.name)) ?? []).map(directory.file)
        let size = dataSize.reduce(0) { $0 + ((try? PosixFile.size($1)) ?? 0) }
        let healthy = proposals.withLock { $0.failure == nil }
        return state.withLock { state in
            CoordinatorStatus(
                name: configuration.name, store: "embedded",
                members: [CoordinatorMember(name: configuration.name, id: configuration.name, clientURLs: [], isLeader: consensus.isLeader,
                                            raftTerm: 0, dbSize: size, isHealthy: healthy)],
                revision: state.replica.machine.tree.revision,
                oldestRevision: max(state.replica.machine.tree.oldestRevision, min(state.replica.hub.historyStart, state.replica.machine.tree.revision + 1)),
                appliedIndex: state.replica.machine.appliedIndex, files: state.replica.machine.tree.fileCount,
                sessions: state.replica.machine.sessions.count, watches: state.replica.hub.watchCount,
                dataSize: size, fsyncs: stats.syncs, isLeader: consensus.isLeader)
        }
    }

    // MARK: Watches

    /// Starts watch `clientID` of `connection` on `glob` from `fromRev` (0 = from the next
    /// revision). Events and progress are pushed as notifications on that connection; the
    /// watch ends when it is cancelled or the connection closes. Returns the current revision.
    public func watch(connection: RPCServerConnection, clientID: UInt64, glob: TreeGlob, fromRev: Int64, filter: WatchFilter? = nil) throws(RPCError) -> Int64 {
        let (revision, routed, first) = try state.withLock { (state) throws(RPCError) in
            let (routed, first) = try state.watchers.watch(connection: connection, clientID: clientID, glob: glob, fromRev: fromRev, filter: filter, hub: &state.replica.hub)
            metrics.watches.record(state.replica.hub.watchCount)
            return (state.replica.hub.revision, routed, first)
        }
        if first {
            connection.onClose { [weak self] in self?.dropWatches(of: connection.id) }
        }
        perform(routed)
        return revision
    }

    /// Ends watch `clientID` of `connection`; false when there is no such watch.
    public func unwatch(connection: RPCServerConnection, clientID: UInt64) -> Bool {
        state.withLock { state in state.watchers.unwatch(connection: connection, clientID: clientID, hub: &state.replica.hub) }
    }

    private func dropWatches(of connection: ObjectIdentifier) {
        state.withLock { state in state.watchers.drop(connection, hub: &state.replica.hub) }
    }

    // MARK: Timers (driven by the server)

    /// Has `alarm` called with the time (on the node's clock, see `clockNow`) of the next
    /// session deadline whenever it comes earlier than the last time handed out, by
    /// `alarm` or by `expireSessions()`; called once at once when sessions exist. The
    /// shell keeps one timer at that time and calls `expireSessions()` when it fires.
    public func setExpiryAlarm(_ alarm: @escaping @Sendable (Duration) -> Void) {
        let next: Duration? = state.withLock { state in
            state.expiryAlarm = alarm
            return state.replica.leases.nextCheck(now: now())
        }
        if let next { alarm(next) }
    }

    /// The node's clock: the time session deadlines are on.
    public var clockNow: Duration { now() }

    /// Proposes expiry for every session whose lease ran out; returns when to look again
    /// (the next deadline, nil when no session is live).
    @discardableResult
    public func expireSessions() -> Duration? {
        let moment = now()
        let limit = configuration.maxPendingWrites
        return state.withLock { state in
            guard proposals.withLock({ $0.failure == nil }) else { return nil }
            for session in state.replica.leases.expired(now: moment) {
                let command = CoordinatorCommand.expireSession(session)
                // Lock order: the state's, then the proposals'.
                if proposals.withLock({ $0.propose(command, command.encoded, nil, consensus: consensus, limit: limit) }) == nil {
                    metrics.sessionsExpired.increment()
                    logger.info("session expired", metadata: ["coordinator.session": "\(session)"])
                } else {
                    state.replica.leases.expiryFailed(session)
                }
            }
            return state.replica.leases.nextCheck(now: moment)
        }
    }

    /// Tells idle watchers the current revision.
    public func progressTick() {
        let routed = state.withLock { state in Self.route(state.replica.hub.onProgressTick(), &state) }
        perform(routed)
    }

    /// Stops taking writes and closes the log after what is queued is durable.
    public func stop() {
        // A snapshot in progress queues log-segment removal; let it, then drain the log.
        snapshotQueue.sync {}
        consensus.stop()
    }

    // MARK: Applying

    private func applyCommitted(_ entries: [LogEntry]) {
        let moment = now()
        // One reading for the batch: its entries became durable together.
        let committed = ContinuousClock.now
        var pendings = proposals.withLock { proposals in entries.map { proposals.pending.removeValue(forKey: $0.index) } }
        var completions: [(waiter: Waiter, result: Result<CommandResult, CoordinatorError>)] = []
        completions.reserveCapacity(entries.count)
        let (routed, snapshot, alarm) = state.withLock { state -> ([Routed], (CoordinatorStateMachine, [TreeEvent], SnapshotSchedule.Started)?, (() -> Void)?) in
            var actions: [WatchAction] = []
            for i in entries.indices {
                // Taken and borrowed, not copied: a copy would retain the command's arrays
                // and the waiter's closure (objects the proposing thread made, cold in this
                // core's cache) once more, for nothing.
                let result: Result<CommandResult, CoordinatorError>, produced: [WatchAction]
                if var pending = pendings[i].take() {
                    (result, produced) = state.replica.apply(pending.command, at: entries[i].index, now: moment)
                    if let waiter = pending.waiter.take() { completions.append((waiter, result)) }
                    if i == 0 {
                        // The batch's oldest proposal waited longest: its wait is the batch's.
                        let (seconds, attoseconds) = (committed - pending.proposedAt).components
                        metrics.commitLatency.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
                    }
                } else {
                    let command: CoordinatorCommand
                    do { command = try CoordinatorCommand(encoded: entries[i].data, limits: configuration.treeLimits) } catch {
                        preconditionFailure("committed log entry \(entries[i].index) does not decode: \(error)")
                    }
                    (result, produced) = state.replica.apply(command, at: entries[i].index, now: moment)
                }
                actions += produced
                if case .failure = result { metrics.failed.increment() }
            }
            metrics.applied.increment(by: entries.count)
            metrics.batchSize.record(entries.count)
            metrics.revision.record(state.replica.machine.tree.revision)
            metrics.files.record(state.replica.machine.tree.fileCount)
            metrics.sessions.record(state.replica.machine.sessions.count)
            state.replica.compactIfDue()
            return (Self.route(actions, &state), snapshotIfDue(&state), Self.earlierExpiry(&state))
        }
        // Watchers first: a change reaches them no later than its writer's acknowledgement;
        // so does the expiry timer a new session needs.
        perform(routed)
        alarm?()
        RPCReply.batching {
            for i in completions.indices { completions[i].waiter.resume(completions[i].result.mapError(\.rpcError)) }
        }
        if let (machine, history, started) = snapshot { writeSnapshot(machine, history, started) }
    }

    /// A session opened with a deadline before the one the shell's timer is armed for:
    /// the call that re-arms it.
    private static func earlierExpiry(_ state: inout State) -> (() -> Void)? {
        guard let alarm = state.expiryAlarm, let next = state.replica.leases.earlierDeadline() else { return nil }
        return { alarm(next) }
    }

    private func failCommitted(_ entries: [LogEntry], _ error: any Error) {
        let waiters = proposals.withLock { proposals in
            proposals.failure = "\(error)"
            return entries.compactMap { proposals.pending.removeValue(forKey: $0.index)?.waiter }
        }
        for waiter in waiters { waiter.resume(.failure(RPCError(.unavailable, "write not durable: \(error)"))) }
    }

    private func snapshotIfDue(_ state: inout State) -> (CoordinatorStateMachine, [TreeEvent], SnapshotSchedule.Started)? {
        let index = state.replica.machine.appliedIndex
        guard state.snapshots.isDue(appliedIndex: index, loggedBytes: { consensus.stats.bytes }) else { return nil }
        let started = state.snapshots.started(index: index, loggedBytes: consensus.stats.bytes)
        // Copies are cheap (copy-on-write); the snapshot is written off the apply path.
        return (state.replica.machine, state.replica.hub.retainedHistory, started)
    }

    private func writeSnapshot(_ machine: CoordinatorStateMachine, _ history: [TreeEvent], _ cut: SnapshotSchedule.Started) {
        snapshotQueue.async { [self] in
            let index = machine.appliedIndex
            let started = ContinuousClock.now
            do {
                let size = try SnapshotFile.write(to: directory, index: index) { sink in
                    try CoordinatorSnapshot.write(machine, history: history, into: &sink)
                }
                for old in try directory.snapshots().dropLast() { try PosixFile.remove(directory.file(old.name)) }
                consensus.snapshotted(through: index)
                logger.info("snapshot written", metadata: [
                    "snapshot.index": "\(index)", "snapshot.bytes": "\(size)", "snapshot.duration": "\(ContinuousClock.now - started)",
                ])
                state.withLock { $0.snapshots.finished(cut, size: size) }
            } catch {
                logger.error("snapshot failed; will retry", metadata: ["snapshot.index": "\(index)", "error": "\(error)"])
                state.withLock { $0.snapshots.failed() }
            }
        }
    }

    // MARK: Delivering watch actions

    private static func route(_ actions: [WatchAction], _ state: inout State) -> [Routed] {
        state.watchers.route(actions, hub: &state.replica.hub)
    }

    typealias Routed = WatchConnections.Routed

    /// Sends routed actions (see `WatchConnections.send`); reports delivered bytes back to the hub.
    private func perform(_ routed: [Routed]) {
        guard !routed.isEmpty else { return }
        for action in routed.map(\.action) {
            switch action {
            case .deliver(_, let events): metrics.watchEvents.increment(by: events.count)
            case .cancel(_, .slowConsumer): metrics.slowConsumers.increment()
            default: break
            }
        }
        WatchConnections.send(routed) { [weak self] charges in
            guard let self else { return }
            let routed = self.state.withLock { state in
                Self.route(charges.flatMap { state.replica.hub.onSent($0.0, bytes: $0.1) }, &state)
            }
            self.perform(routed)
        }
    }
}
