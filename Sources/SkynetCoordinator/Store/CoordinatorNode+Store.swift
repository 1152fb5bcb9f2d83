import SkynetRPC
import SkynetTree

/// The embedded store: reads under the node's short lock, writes through its log.
/// `walk`, `keepAlive`, `watch`, `unwatch` and `status` are the node's own methods.
extension CoordinatorNode: CoordinatorStore {
    public var limits: TreeLimits { configuration.treeLimits }

    public var sessionTTLRange: ClosedRange<Duration> { configuration.sessionTTLRange }

    public func get(_ path: TreePath, atRev: Int64?) throws -> (revision: Int64, file: TreeFile?) {
        do {
            return try read { machine in (machine.tree.revision, try machine.tree.get(path, atRev: atRev)) }
        } catch let error as TreeError { throw error.rpcError }
    }

    public func get(_ path: TreePath, atRev: Int64?, completion: @escaping @Sendable (Result<(revision: Int64, file: TreeFile?), RPCError>) -> Void) {
        completion(Result { try get(path, atRev: atRev) }.mapError { error in error as? RPCError ?? RPCError(.internal, "\(error)") })
    }

    public func getdir(_ path: TreePath) throws -> (revision: Int64, names: [String]) {
        do {
            return try read { machine in (machine.tree.revision, try machine.tree.getdir(path)) }
        } catch let error as TreeError { throw error.rpcError }
    }

    public func stat(_ path: TreePath) -> (revision: Int64, stat: TreeNodeStat?) {
        read { machine in (machine.tree.revision, machine.tree.stat(path)) }
    }

    public func txn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]) async throws -> TxnResult {
        try await withCheckedThrowingContinuation { continuation in
            txn(compares: compares, success: success, failure: failure) { continuation.resume(with: $0) }
        }
    }

    public func txn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation], completion: @escaping @Sendable (Result<TxnResult, RPCError>) -> Void) {
        writeTxn(compares: compares, success: success, failure: failure, completion: completion)
    }

    public func openSession(ttl: Duration) async throws -> (id: UInt64, ttl: Duration) {
        let milliseconds = ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000
        guard case let .sessionOpened(id, granted) = try await write(.openSession(ttlMilliseconds: milliseconds)) else {
            throw RPCError(.internal, "openSession produced an unexpected result")
        }
        return (id, .milliseconds(granted))
    }

    public func closeSession(_ session: UInt64) async throws -> (revision: Int64, deleted: Int) {
        guard case let .sessionEnded(_, revision, files) = try await write(.closeSession(session)) else {
            throw RPCError(.internal, "closeSession produced an unexpected result")
        }
        return (revision, files)
    }

    public func close() async {
        stop()
    }
}
