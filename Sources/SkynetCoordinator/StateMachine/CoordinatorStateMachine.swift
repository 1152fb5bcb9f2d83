import SkynetTree

/// The replicated state of a coordinator: the config tree and the sessions, changed only
/// by applying committed log entries in order.
///
/// Deterministic and pure: the same commands from the same start give the same state and
/// the same results on every replica. Session timing is not here (see `SessionLeases`):
/// expiry arrives as an `expireSession` command like any other change.
public struct CoordinatorStateMachine: Sendable {
    /// The tree.
    public internal(set) var tree: ConfigTree
    /// Live sessions and their TTL in milliseconds.
    public internal(set) var sessions: [UInt64: Int64] = [:]
    /// The id the next opened session gets; ids are never reused.
    public internal(set) var nextSession: UInt64 = 1
    /// The index of the last applied log entry.
    public internal(set) var appliedIndex: UInt64 = 0

    /// Creates an empty state.
    public init(limits: TreeLimits = .default) {
        tree = ConfigTree(limits: limits)
    }

    /// Applies the entry at `index`. Returns its result and the tree events it produced
    /// (all of one revision, or none).
    public mutating func apply(_ command: CoordinatorCommand, at index: UInt64) -> (Result<CommandResult, CoordinatorError>, [TreeEvent]) {
        precondition(index == appliedIndex + 1, "log entries must be applied in order: got \(index) after \(appliedIndex)")
        appliedIndex = index
        switch command {
        case let .txn(compares, success, failure):
            func unknownSession(_ operations: [TreeOperation]) -> UInt64? {
                for case let .set(_, _, _, session?) in operations where sessions[session] == nil { return session }
                return nil
            }
            if let session = unknownSession(success) ?? unknownSession(failure) {
                return (.failure(.sessionNotFound(session)), [])
            }
            do {
                let (result, events) = try tree.txn(compares, success: success, failure: failure)
                return (.success(.txn(result)), events)
            } catch {
                return (.failure(.tree(error)), [])
            }
        case .openSession(let ttl):
            let id = nextSession
            nextSession += 1
            sessions[id] = ttl
            return (.success(.sessionOpened(id: id, ttlMilliseconds: ttl)), [])
        case .closeSession(let id), .expireSession(let id):
            guard sessions.removeValue(forKey: id) != nil else { return (.failure(.sessionNotFound(id)), []) }
            let (rev, events) = tree.deleteSession(id)
            return (.success(.sessionEnded(id: id, revision: rev, files: events.count)), events)
        }
    }

    /// Puts back a state read from a snapshot.
    public init(tree: ConfigTree, sessions: [UInt64: Int64], nextSession: UInt64, appliedIndex: UInt64) {
        self.tree = tree
        self.sessions = sessions
        self.nextSession = nextSession
        self.appliedIndex = appliedIndex
    }
}
