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
        var done: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queue = Deque<Item>()
        var inFlight = 0
    }

    /// Most operations per transaction.
    static let maxBatch = 256
    /// Transactions in flight at once (a second overlaps the first's round trip).
    static let maxInFlight = 2

    private let coordinator: CoordinatorClient
    private let state = Mutex(State())

    init(coordinator: CoordinatorClient) { self.coordinator = coordinator }

    /// Applies `operation` if `fence` holds; throws `FenceBroken` when it does not, or the
    /// coordinator's error.
    func submit(_ operation: TreeOperation, fence: TxnCompare) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enqueue(Item(operation: operation, fence: fence, done: continuation))
        }
    }

    private func enqueue(_ item: Item) {
        let start = state.withLock { state -> Bool in
            state.queue.append(item)
            guard state.inFlight < Self.maxInFlight else { return false }
            state.inFlight += 1
            return true
        }
        if start { Task { await self.drain() } }
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
                for item in batch { item.done.resume() }
                return
            }
        } catch let error as RPCError where error.code == .tooLarge && batch.count > 1 {
            // Over the store's limit for one transaction (etcd counts operations and
            // compares): halves go separately.
            await commit(Array(batch.prefix(batch.count / 2)))
            await commit(Array(batch.dropFirst(batch.count / 2)))
            return
        } catch {
            for item in batch { item.done.resume(throwing: error) }
            return
        }
        guard batch.count > 1 || fences.count > 1 else {
            for item in batch { item.done.resume(throwing: FenceBroken(path: item.fence.path.string)) }
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
