import SkynetTree

/// One entry of the coordinator's log: every change to the replicated state is one of these.
///
/// Commands are validated (paths, sizes, TTLs) before they are proposed, so the log holds
/// only well-formed commands; applying one can still fail deterministically (a
/// compare-and-set mismatch, an unknown session), and every replica fails the same way.
public enum CoordinatorCommand: Hashable, Sendable {
    /// A transaction; `set` and `del` are transactions of one operation.
    case txn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation])
    /// Opens a session with a TTL in milliseconds; the applied result carries its id.
    case openSession(ttlMilliseconds: Int64)
    /// Closes a session at its owner's request: its files go in one revision.
    case closeSession(UInt64)
    /// Ends a session whose lease ran out (decided by the leader): its files go in one revision.
    case expireSession(UInt64)
}

/// What applying a command produced.
public enum CommandResult: Hashable, Sendable {
    /// A transaction ran (also for `set` and `del`).
    case txn(TxnResult)
    /// A session was opened.
    case sessionOpened(id: UInt64, ttlMilliseconds: Int64)
    /// A session ended (closed or expired) at `revision`, deleting `files` files.
    case sessionEnded(id: UInt64, revision: Int64, files: Int)
}

/// Why an applied command failed. Deterministic: every replica gets the same error.
public enum CoordinatorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The tree refused the operation.
    case tree(TreeError)
    /// The session does not exist (never opened, closed or expired).
    case sessionNotFound(UInt64)

    public var description: String {
        switch self {
        case .tree(let error): error.description
        case .sessionNotFound(let id): "session \(id) does not exist (it expired, was closed, or was never opened)"
        }
    }

    /// The stable RPC error code.
    public var code: String {
        switch self {
        case .tree(let error): error.code
        case .sessionNotFound: "SessionNotFound"
        }
    }
}
