import SkynetRPC
import SkynetTree
import Synchronization

/// Calls of one kind to etcd, sent in batches as `EtcdBatcher` decides (the shell around it).
///
/// `alone` sends one request as its own etcd call; `together` sends several as one `Txn`
/// and returns each one's own answer, in order (nil where etcd's answer lacks it). Errors
/// are `RPCError`s: when a batch goes unanswered (`Unavailable`), each of its callers gets
/// that, its outcome being as unknown as a lone call's would be; when etcd refuses a batch
/// as a whole (a session gone, a limit), nothing in it took effect, and each request goes
/// again alone for its own answer.
final class EtcdBatchedCalls<Request: Sendable, Response: Sendable>: Sendable {
    private struct Waiting: Sendable {
        let request: Request
        let continuation: CheckedContinuation<Response, any Error>
    }

    private struct State: ~Copyable {
        var batcher: EtcdBatcher
        var waiting: [UInt64: Waiting] = [:]
        var nextID: UInt64 = 0

        mutating func remove(_ ids: [UInt64]) -> [Waiting] {
            ids.map { waiting.removeValue(forKey: $0)! }
        }
    }

    private let state: Mutex<State>
    /// The batcher's limits, read without its lock.
    private let limits: EtcdBatcher.Limits
    private let what: String
    private let alone: @Sendable (Request) async throws -> Response
    private let together: @Sendable ([Request]) async throws -> [Response?]

    /// Calls described as `what` in errors ("txn", "get").
    init(
        _ what: String, limits: EtcdBatcher.Limits = .init(),
        alone: @escaping @Sendable (Request) async throws -> Response,
        together: @escaping @Sendable ([Request]) async throws -> [Response?]
    ) {
        state = Mutex(State(batcher: EtcdBatcher(limits: limits)))
        self.limits = limits
        self.what = what
        self.alone = alone
        self.together = together
    }

    /// Sends `request` (touching `paths`, holding `weight` etcd operations and `bytes` of
    /// values) in the next batch with a free slot, or alone when it may not share one.
    func send(_ request: Request, paths: [TreePath] = [], weight: Int = 1, bytes: Int = 0) async throws -> Response {
        guard limits.admit(weight: weight, bytes: bytes) else { return try await alone(request) }
        return try await withCheckedThrowingContinuation { continuation in
            let batch = state.withLock { state -> [Waiting]? in
                let id = state.nextID
                state.nextID &+= 1
                state.waiting[id] = Waiting(request: request, continuation: continuation)
                return state.batcher.submit(.init(id: id, paths: paths, weight: weight, bytes: bytes)).map { state.remove($0) }
            }
            // One task per busy slot, not per call: it sends batches until none waits.
            if let batch { Task { await self.drain(batch) } }
        }
    }

    /// Sends `batch`, then each batch the batcher hands this slot next, until none waits.
    private func drain(_ batch: [Waiting]) async {
        var batch = batch
        while true {
            await run(batch)
            guard let next = state.withLock({ state in state.batcher.finished().map { state.remove($0) } }) else { return }
            batch = next
        }
    }

    /// One etcd call for `batch`; every caller in it is answered.
    private func run(_ batch: [Waiting]) async {
        guard batch.count > 1 else { return await runAlone(batch[0]) }
        do {
            let answers = try await together(batch.map(\.request))
            for (index, waiting) in batch.enumerated() {
                if index < answers.count, let answer = answers[index] {
                    waiting.continuation.resume(returning: answer)
                } else {
                    waiting.continuation.resume(throwing: RPCError(.internal, "\(what): etcd's answer to a batch lacked one call's part"))
                }
            }
        } catch {
            let failure = EtcdFailure.rpcError(error, what)
            if failure.code == .unavailable {
                for waiting in batch { waiting.continuation.resume(throwing: failure) }
                return
            }
            await withTaskGroup(of: Void.self) { group in
                for waiting in batch { group.addTask { await self.runAlone(waiting) } }
            }
        }
    }

    private func runAlone(_ waiting: Waiting) async {
        do {
            waiting.continuation.resume(returning: try await alone(waiting.request))
        } catch {
            waiting.continuation.resume(throwing: error)
        }
    }
}
