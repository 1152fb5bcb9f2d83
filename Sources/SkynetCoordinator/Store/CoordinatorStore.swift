import SkynetRPC
import SkynetTree

/// Where the coordinator's tree lives, beneath its MessagePack-RPC methods.
///
/// The methods (`CoordinatorMethods`) parse and check a request's params once, then ask a
/// store; whichever engine holds the data, a store keeps the same promises, so `sky`,
/// services and clients in any language see one coordinator:
/// - one global revision; a write is one revision, acknowledged only once durable;
/// - a transaction's compares and its chosen branch apply atomically, with the tree rules
///   (no file under a file, no file where a directory is) checked in the same step;
/// - reads answer from state no later than the last acknowledged write;
/// - a watch delivers every event after `fromRev`, in order, each revision's events
///   together, with no gap and no duplicate, or fails with `Compacted` naming the oldest
///   revision still available;
/// - session-bound files go, in one revision, when their session is closed or expires.
///
/// Every error is an `RPCError` with a stable code. `CoordinatorNode` is the embedded store.
public protocol CoordinatorStore: Sendable {
    /// Limits on paths, values and globs; requests are checked against them before they
    /// reach the store.
    var limits: TreeLimits { get }

    /// The session TTLs a client may ask for.
    var sessionTTLRange: ClosedRange<Duration> { get }

    /// The file at `path` now, or as of revision `atRev`, and the revision read at.
    func get(_ path: TreePath, atRev: Int64?) async throws -> (revision: Int64, file: TreeFile?)

    /// Reads as `get` does and tells `completion` the result, from any thread: the server
    /// answers reads this way without a task each. The default runs `get` in a task; a
    /// store that reads without waiting answers before returning.
    func get(_ path: TreePath, atRev: Int64?, completion: @escaping @Sendable (Result<(revision: Int64, file: TreeFile?), RPCError>) -> Void)

    /// The names in directory `path`, sorted; `NotFound` when it is not a directory.
    func getdir(_ path: TreePath) async throws -> (revision: Int64, names: [String])

    /// What is at `path`: a file with its stat, a directory, or nothing.
    func stat(_ path: TreePath) async throws -> (revision: Int64, stat: TreeNodeStat?)

    /// One page of the files matching `glob` after `after`, in path order, at most about
    /// `maxBytes` of values (at least one file), and whether more follow.
    func walk(_ glob: TreeGlob, after: TreePath?, maxBytes: Int) async throws -> (revision: Int64, files: [TreeFile], more: Bool)

    /// Applies `success` when every compare holds, else `failure`, as one revision.
    func txn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]) async throws -> TxnResult

    /// Applies a transaction as `txn` does and tells `completion` its result, from any
    /// thread: the server answers writes this way without a task each. The default runs
    /// `txn` in a task; a store that completes writes in batches answers from the batch.
    func txn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation], completion: @escaping @Sendable (Result<TxnResult, RPCError>) -> Void)

    /// Opens a session of about `ttl` (within `sessionTTLRange`); returns its id and the TTL granted.
    func openSession(ttl: Duration) async throws -> (id: UInt64, ttl: Duration)

    /// Renews a session's lease; returns its TTL, or throws `SessionNotFound`.
    func keepAlive(_ session: UInt64) async throws -> Duration

    /// Closes a session, deleting its files in one revision; returns that revision and
    /// how many files went.
    func closeSession(_ session: UInt64) async throws -> (revision: Int64, deleted: Int)

    /// Starts watch `clientID` of `connection` on `glob` from `fromRev` (0: from the next
    /// revision); events and progress go to the connection as notifications until the watch
    /// is cancelled or the connection closes. Returns the current revision. With `filter`,
    /// only events on paths it accepts reach the connection (the caller's read permission).
    func watch(connection: RPCServerConnection, clientID: UInt64, glob: TreeGlob, fromRev: Int64, filter: WatchFilter?) async throws -> Int64

    /// Ends watch `clientID` of `connection`; false when there is no such watch.
    func unwatch(connection: RPCServerConnection, clientID: UInt64) async -> Bool

    /// The store's view of itself.
    func status() async -> CoordinatorStatus

    /// Stops the store once its server has drained (the embedded node closes its log).
    func close() async
}

extension CoordinatorStore {
    public func get(_ path: TreePath, atRev: Int64?, completion: @escaping @Sendable (Result<(revision: Int64, file: TreeFile?), RPCError>) -> Void) {
        Self.complete(completion) { try await get(path, atRev: atRev) }
    }

    public func txn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation], completion: @escaping @Sendable (Result<TxnResult, RPCError>) -> Void) {
        Self.complete(completion) { try await txn(compares: compares, success: success, failure: failure) }
    }

    /// Runs `body` in a task and tells `completion` its result; an error that is not an
    /// `RPCError` becomes `Internal`.
    private static func complete<T: Sendable>(_ completion: @escaping @Sendable (Result<T, RPCError>) -> Void, _ body: @escaping @Sendable () async throws -> T) {
        Task {
            do {
                completion(.success(try await body()))
            } catch {
                completion(.failure(error as? RPCError ?? RPCError(.internal, "\(error)")))
            }
        }
    }
}
