/// Fans committed tree events out to glob watchers with etcd's guarantees.
///
/// A pure core: the shell feeds it commits (`onCommit`), watch requests, reports of bytes
/// that left a watcher's send queue (`onSent`) and progress ticks, and performs the
/// returned `WatchAction`s. Every watcher gets the events matching its glob in revision
/// order, each exactly once, the events of one revision together, starting from any
/// revision still in history. A watcher with too many bytes unsent stops receiving live
/// events and catches up from history as it drains; if history moves past it, it is
/// cancelled with `slowConsumer` and the revision to resume from. Memory is bounded by
/// the history limits plus `maxPendingBytes` per watcher.
public struct WatchHub: Sendable {
    struct Watcher: Sendable {
        var glob: TreeGlob
        /// The first revision not yet delivered (nor skipped as not matching).
        var nextRev: Int64
        var pendingBytes = 0
        var deliveredSinceTick = false
    }

    /// The limits in force.
    public let limits: WatchHubLimits
    /// The revision of the last commit seen.
    public private(set) var revision: Int64
    /// Every event with a revision at or after this one is in history.
    public private(set) var historyStart: Int64
    private var history: [TreeEvent] = []
    private var historyHead = 0
    private var historyBytes = 0
    private var watchers: [WatchID: Watcher] = [:]
    private var nextID: UInt64 = 1

    /// Creates a hub for a tree at `revision`, with no history yet.
    public init(revision: Int64, limits: WatchHubLimits = .init()) {
        self.limits = limits
        self.revision = revision
        self.historyStart = revision + 1
    }

    /// Creates a hub for a tree at `revision` whose recent events are `history` (whole
    /// revisions, oldest first, ending at `revision`), as kept in a snapshot.
    public init(revision: Int64, history: [TreeEvent], limits: WatchHubLimits = .init()) {
        self.init(revision: revision, limits: limits)
        guard let first = history.first else { return }
        precondition(history.last!.rev <= revision, "history runs past the revision")
        self.history = history
        historyBytes = history.reduce(0) { $0 + Self.size(of: $1) }
        historyStart = first.rev
    }

    /// The events kept for resuming watches, oldest first (what a snapshot stores).
    public var retainedHistory: [TreeEvent] { Array(history[historyHead...]) }

    /// Number of live watches.
    public var watchCount: Int { watchers.count }

    /// Events currently kept in history.
    public var historyCount: Int { history.count - historyHead }

    /// Starts a watch of `glob` from `fromRev` (0 = from the next revision). Returns its id
    /// and the catch-up deliveries from history.
    public mutating func watch(_ glob: TreeGlob, fromRev: Int64) throws(WatchError) -> (WatchID, [WatchAction]) {
        let start = fromRev == 0 ? revision + 1 : fromRev
        if start < historyStart { throw .compacted(requested: fromRev, oldest: historyStart) }
        let id = WatchID(nextID)
        nextID += 1
        watchers[id] = Watcher(glob: glob, nextRev: start)
        return (id, pump(id))
    }

    /// Ends a watch; later events for it are not produced.
    public mutating func cancel(_ id: WatchID) {
        watchers[id] = nil
    }

    /// Records one committed revision and delivers it to the watchers that are caught up.
    public mutating func onCommit(revision rev: Int64, events: [TreeEvent]) -> [WatchAction] {
        precondition(rev == revision + 1, "revisions must arrive in order: got \(rev) after \(revision)")
        precondition(events.allSatisfy { $0.rev == rev }, "events must carry their revision")
        revision = rev
        appendToHistory(events)
        var actions: [WatchAction] = []
        for id in watchers.keys.sorted() {
            guard var watcher = watchers[id], watcher.nextRev == rev else { continue }
            let matching = events.filter { watcher.glob.matches($0.path) }
            let bytes = matching.reduce(0) { $0 + Self.size(of: $1) }
            if matching.isEmpty {
                watcher.nextRev = rev + 1
            } else if watcher.pendingBytes + bytes <= limits.maxPendingBytes || watcher.pendingBytes == 0 {
                watcher.nextRev = rev + 1
                watcher.pendingBytes += bytes
                watcher.deliveredSinceTick = true
                actions.append(.deliver(id, matching))
            }
            // Otherwise it stays at `rev` and catches up from history once it drains.
            watchers[id] = watcher
        }
        return actions + cancelWatchersBehindHistory()
    }

    /// The shell sent `bytes` of a watcher's deliveries; it may receive more now.
    public mutating func onSent(_ id: WatchID, bytes: Int) -> [WatchAction] {
        guard var watcher = watchers[id] else { return [] }
        watcher.pendingBytes = max(0, watcher.pendingBytes - bytes)
        watchers[id] = watcher
        return pump(id)
    }

    /// Progress for every caught-up watcher that received nothing since the last tick.
    public mutating func onProgressTick() -> [WatchAction] {
        var actions: [WatchAction] = []
        for id in watchers.keys.sorted() {
            guard var watcher = watchers[id] else { continue }
            if !watcher.deliveredSinceTick, watcher.nextRev > revision {
                actions.append(.progress(id, revision: revision))
            }
            watcher.deliveredSinceTick = false
            watchers[id] = watcher
        }
        return actions
    }

    /// Delivers history to a watcher that is behind, whole revisions at a time, while its budget lasts.
    private mutating func pump(_ id: WatchID) -> [WatchAction] {
        guard var watcher = watchers[id], watcher.nextRev <= revision else { return [] }
        if watcher.nextRev < historyStart {
            watchers[id] = nil
            return [.cancel(id, .slowConsumer(resumeFrom: watcher.nextRev))]
        }
        var batch: [TreeEvent] = []
        var index = firstIndex(atOrAfter: watcher.nextRev)
        while index < history.count {
            let rev = history[index].rev
            var end = index
            while end < history.count, history[end].rev == rev { end += 1 }
            let matching = history[index..<end].filter { watcher.glob.matches($0.path) }
            let bytes = matching.reduce(0) { $0 + Self.size(of: $1) }
            if !matching.isEmpty, watcher.pendingBytes + bytes > limits.maxPendingBytes, watcher.pendingBytes > 0 { break }
            batch += matching
            watcher.pendingBytes += bytes
            watcher.nextRev = rev + 1
            index = end
        }
        if index >= history.count { watcher.nextRev = revision + 1 }
        if !batch.isEmpty { watcher.deliveredSinceTick = true }
        watchers[id] = watcher
        return batch.isEmpty ? [] : [.deliver(id, batch)]
    }

    private mutating func appendToHistory(_ events: [TreeEvent]) {
        history += events
        historyBytes += events.reduce(0) { $0 + Self.size(of: $1) }
        while historyCount > limits.maxHistoryEvents || historyBytes > limits.maxHistoryBytes {
            // Drop the oldest whole revision.
            let rev = history[historyHead].rev
            while historyHead < history.count, history[historyHead].rev == rev {
                historyBytes -= Self.size(of: history[historyHead])
                historyHead += 1
            }
            historyStart = rev + 1
        }
        if historyHead > 1024, historyHead * 2 > history.count {
            history.removeFirst(historyHead)
            historyHead = 0
        }
    }

    private mutating func cancelWatchersBehindHistory() -> [WatchAction] {
        let behind = watchers.filter { $0.value.nextRev < historyStart }.keys.sorted()
        return behind.map { id in
            let resumeFrom = watchers.removeValue(forKey: id)!.nextRev
            return .cancel(id, .slowConsumer(resumeFrom: resumeFrom))
        }
    }

    /// Index of the first kept event with a revision at or after `rev`.
    private func firstIndex(atOrAfter rev: Int64) -> Int {
        var low = historyHead, high = history.count
        while low < high {
            let mid = (low + high) / 2
            if history[mid].rev < rev { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// What an event is charged against budgets (and what `onSent` must report back): its path, value and a fixed overhead.
    public static func size(of event: TreeEvent) -> Int { event.path.string.utf8.count + event.value.count + 24 }
}
