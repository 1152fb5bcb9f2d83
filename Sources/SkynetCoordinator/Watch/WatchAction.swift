import SkynetTree

/// What the shell must do for watchers after an event of the hub.
public enum WatchAction: Hashable, Sendable {
    /// Send these events, in order; they are whole revisions, oldest first.
    case deliver(WatchID, [TreeEvent])
    /// Tell an idle watcher the tree is at `revision` and nothing it watches changed.
    case progress(WatchID, revision: Int64)
    /// The watch is over; tell the watcher why.
    case cancel(WatchID, WatchError)
}

/// Why a watch could not start or had to stop.
public enum WatchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The requested start is older than the history kept; `oldest` is the first revision
    /// a watch can start from. Re-read the state, then watch from its revision + 1.
    case compacted(requested: Int64, oldest: Int64)
    /// The watcher fell behind further than the history reaches. It received everything
    /// before `resumeFrom`; watch again from there (or re-read if that is compacted).
    case slowConsumer(resumeFrom: Int64)

    public var description: String {
        switch self {
        case let .compacted(requested, oldest):
            "revision \(requested) is compacted; watches can start from revision \(oldest)"
        case let .slowConsumer(resumeFrom):
            "watcher fell too far behind; resume from revision \(resumeFrom)"
        }
    }

    /// The stable RPC error code.
    public var code: String {
        switch self {
        case .compacted: "Compacted"
        case .slowConsumer: "SlowConsumer"
        }
    }
}
