import DequeModule
import Skynet
import SkynetRPC
import Synchronization

/// Group commit for the timer service's writes: operations submitted while a transaction
/// is in flight wait and go together in the next one, so many concurrent creates share a
/// coordinator round trip (and its fsync).
///
/// Each operation carries a fence, a compare that must hold for it to apply (the shard's
/// owner file still names this instance). A batch over the store's size for one
/// transaction (`TooLarge`) is split in halves. When a batch's transaction fails its compares,
/// each operation is retried alone so only those whose fence broke fail.
final class TreeWriteBatcher: Sendable {
    struct Item {
        var operation: TreeOperation
        var fence: TxnCompare
        /// Called once with the outcome: `nil` when applied.
        var done: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var queue = Deque<Item>()
        var inFlight = 0
        /// Operations submitted and not yet answered.
        var backlog = 0
        /// Waiting for the backlog to reach zero, by ticket.
        var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextTicket = 0
    }

    /// Most operations per transaction.
    static let maxBatch = 256
    /// Transactions in flight at once: later ones overlap the first's round trip, and the
    /// coordinator's own group commit puts them under one fsync.
    static let maxInFlight = 8

    private let coordinator: CoordinatorClient
    private let state = Mutex(State())

    init(coordinator: CoordinatorClient) { self.coordinator = coordinator }

    /// Applies `operation` if `fence` holds; throws `FenceBroken` when it does not, or the
    /// coordinator's error.
    func submit(_ operation: TreeOperation, fence: TxnCompare) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            submit(operation, fence: fence) { error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            }
        }
    }

    /// Applies `operation` if `fence` holds, without waiting: `done` gets the outcome
    /// (`FenceBroken`, the coordinator's error, or `nil` when applied).
    func submit(_ operation: TreeOperation, fence: TxnCompare, done: @escaping @Sendable ((any Error)?) -> Void) {
        let item = Item(operation: operation, fence: fence, done: { [self] error in
            done(error)
            let idle = state.withLock { state -> Dictionary<Int, CheckedContinuation<Void, Never>>.Values in
                state.backlog -= 1
                guard state.backlog == 0 else { return [:].values }
                defer { state.idleWaiters = [:] }
                return state.idleWaiters.values
            }
            for waiter in idle { waiter.resume() }
        })
        let start = state.withLock { state -> Bool in
            state.backlog += 1
            state.queue.append(item)
            guard state.inFlight < Self.maxInFlight else { return false }
            state.inFlight += 1
            return true
        }
        if start { Task { await self.drain() } }
    }

    /// Operations submitted and not yet answered.
    var backlog: Int { state.withLock { $0.backlog } }

    /// Returns once no operation waits for its answer, or after `limit`, whichever is first.
    func idle(within limit: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ticket = state.withLock { state -> Int? in
                if state.backlog == 0 { return nil }
                state.nextTicket += 1
                state.idleWaiters[state.nextTicket] = continuation
                return state.nextTicket
            }
            guard let ticket else { return continuation.resume() }
            Task { [self] in
                try? await Task.sleep(for: limit)
                state.withLock { $0.idleWaiters.removeValue(forKey: ticket) }?.resume()
            }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Item] in
                let batch = Array(state.queue.prefix(Self.maxBatch))
                state.queue.removeFirst(batch.count)
                if batch.isEmpty { state.inFlight -= 1 }
                return batch
            }
            guard !batch.isEmpty else { return }
            await commit(batch)
        }
    }

    private func commit(_ batch: [Item]) async {
        var fences: [TxnCompare] = []
        for item in batch where !fences.contains(item.fence) { fences.append(item.fence) }
        do {
            let result = try await coordinator.txn(compares: fences, success: batch.map(\.operation))
            if result.succeeded {
                for item in batch { item.done(nil) }
                return
            }
        } catch let error as RPCError where error.code == .tooLarge && batch.count > 1 {
            // Over the store's limit for one transaction (etcd counts operations and
            // compares): halves go separately.
            await commit(Array(batch.prefix(batch.count / 2)))
            await commit(Array(batch.dropFirst(batch.count / 2)))
            return
        } catch {
            for item in batch { item.done(error) }
            return
        }
        guard batch.count > 1 || fences.count > 1 else {
            for item in batch { item.done(FenceBroken(path: item.fence.path.string)) }
            return
        }
        for item in batch { await commit([item]) }
    }
}

/// A write was refused because this instance no longer owns the timer's shard.
struct FenceBroken: Error, CustomStringConvertible {
    var path: String
    var description: String { "the shard's owner file \(path) no longer names this instance" }
}
