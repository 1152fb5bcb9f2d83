import SkynetTree

/// The applied side of a coordinator node as one pure value: the replicated state machine,
/// the watch hub fed by its events, and the leader-local session leases, all changed
/// together by each committed entry.
///
/// Both the live node and recovery apply entries through this one path. Time comes in as
/// an argument (a `Duration` on the node's monotonic clock); nothing here reads a clock.
public struct CoordinatorReplica: Sendable {
    /// The replicated state.
    public internal(set) var machine: CoordinatorStateMachine
    /// The watch fan-out, fed with every committed revision.
    public internal(set) var hub: WatchHub
    /// When each session expires.
    public internal(set) var leases = SessionLeases()

    /// Starts from `machine` (and the watch `history` a snapshot kept), granting every
    /// session a full TTL from `now`, as a new leader does.
    public init(machine: CoordinatorStateMachine, history: [TreeEvent], watchLimits: WatchHubLimits, now: Duration) {
        self.machine = machine
        hub = WatchHub(revision: machine.tree.revision, history: history, limits: watchLimits)
        for (id, ttl) in machine.sessions { leases.grant(id, ttl: .milliseconds(ttl), now: now) }
    }

    /// Applies the committed entry at `index`: its result and what watchers must be sent.
    public mutating func apply(_ command: CoordinatorCommand, at index: UInt64, now: Duration) -> (Result<CommandResult, CoordinatorError>, [WatchAction]) {
        let (result, events) = machine.apply(command, at: index)
        switch result {
        case let .success(.sessionOpened(id, ttl)): leases.grant(id, ttl: .milliseconds(ttl), now: now)
        case let .success(.sessionEnded(id, _, _)): leases.revoke(id)
        default: break
        }
        guard let rev = events.first?.rev else { return (result, []) }
        return (result, hub.onCommit(revision: rev, events: events))
    }

    /// Drops tree versions older than the watch history reaches, a tenth of the history's
    /// length at a time, so `get(atRev:)` and watch resumption cover the same window.
    public mutating func compactIfDue() {
        let step = Int64(max(1, hub.limits.maxHistoryEvents / 10))
        let target = min(hub.historyStart, machine.tree.revision)
        if target - machine.tree.oldestRevision >= step {
            machine.tree.compact(keepingFrom: target)
        }
    }
}
