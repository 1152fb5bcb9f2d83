import SkynetTree

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
///
/// Cost does not grow with watchers that a commit does not concern: watchers hang in a
/// `WatchPrefixIndex` by the literal prefix of their globs, so a commit glob-matches only
/// those on its paths; a watcher that is caught up needs no bookkeeping per revision (only
/// watchers behind, catching up from history, carry a revision to resume from); and
/// watchers sit in slots, so a progress tick walks them in a stable order without sorting.
public struct WatchHub: Sendable {
    /// One watch, 64 bytes: a registry may hold hundreds of thousands.
    struct Watcher: Sendable {
        var id: WatchID
        /// Where its actions go, as the shell said when it started the watch.
        var tag: WatchTag
        var glob: TreeGlob
        /// While behind: the first revision not yet delivered (nor skipped as not matching),
        /// to catch up from history. `caughtUp` when everything through `revision` that it
        /// watches has been handed out.
        var behindAt: Int64
        /// Live events of revisions below this are not for it (a watch started ahead).
        var from: Int64
        /// Bytes handed out and not yet reported sent: the budget
        /// (`WatchHubLimits.maxPendingBytes`) plus one delivery at most, far below 4 GiB;
        /// counted with clamping all the same.
        var pendingBytes: UInt32 = 0
        var deliveredSinceTick = false

        static let caughtUp = Int64.min
        var isBehind: Bool { behindAt != Self.caughtUp }
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
    private var slots = WatcherSlots()
    private var freeSlots: [Int] = []
    private var live = 0
    /// Watchers catching up from history.
    private var behind: Set<WatchID> = []
    /// Tags of watches the hub itself cancelled (slow consumers), kept until the shell has
    /// routed the `.cancel` action (`tag(of:)`, then `forgetCancelled(_:)`).
    private var cancelledTags: [WatchID: WatchTag] = [:]
    private var index = WatchPrefixIndex()
    /// The generation of the next watch: a watch id is its generation (high 32 bits) and
    /// its slot (low 32 bits), so the slot comes from the id without a table, and a slot
    /// reused later carries a different id.
    private var nextGeneration: UInt64 = 1

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
    public var watchCount: Int { live }

    /// Events currently kept in history.
    public var historyCount: Int { history.count - historyHead }

    /// Watches catching up from history rather than receiving live events.
    public var behindCount: Int { behind.count }

    /// Distinct prefixes in the index (for memory figures and tests).
    package var indexPrefixCount: Int { index.count }

    /// Watchers the last commit looked at (those on its paths' prefixes): what a commit costs.
    package private(set) var candidatesLastCommit = 0

    /// Starts a watch of `glob` from `fromRev` (0 = from the next revision). Returns its id
    /// and the catch-up deliveries from history.
    /// `tag` says where its actions go (the shell's connection and client id); the hub
    /// only hands it back through `tag(of:)`.
    public mutating func watch(_ glob: TreeGlob, fromRev: Int64, tag: WatchTag = WatchTag()) throws(WatchError) -> (WatchID, [WatchAction]) {
        let start = fromRev == 0 ? revision + 1 : fromRev
        if start < historyStart { throw .compacted(requested: fromRev, oldest: historyStart) }
        let slot = freeSlots.popLast() ?? slots.count
        precondition(slot < 1 << 32, "more than 2^32 watch slots")
        let id = WatchID(nextGeneration << 32 | UInt64(slot))
        nextGeneration = nextGeneration &+ 1
        index.insert(UInt32(slot), prefix: glob.literalSegments)
        let watcher = Watcher(id: id, tag: tag, glob: glob, behindAt: start <= revision ? start : Watcher.caughtUp, from: start)
        if slot == slots.count { slots.append(watcher) } else { slots[slot] = watcher }
        live += 1
        if watcher.isBehind { behind.insert(id) }
        return (id, pump(id))
    }

    /// Where the actions of watch `id` go: the tag it was started with. Also answers for a
    /// watch the hub cancelled itself, until `forgetCancelled(_:)`.
    public func tag(of id: WatchID) -> WatchTag? {
        if let slot = slot(of: id) { return slots[slot]!.tag }
        return cancelledTags[id]
    }

    /// The shell has routed the `.cancel` action of `id`: its tag is no longer needed.
    public mutating func forgetCancelled(_ id: WatchID) {
        cancelledTags[id] = nil
    }

    /// Ends a watch; later events for it are not produced.
    public mutating func cancel(_ id: WatchID) {
        guard let slot = slot(of: id), let watcher = slots[slot] else { return }
        slots[slot] = nil
        live -= 1
        freeSlots.append(slot)
        index.remove(UInt32(slot), prefix: watcher.glob.literalSegments)
        behind.remove(id)
    }

    /// Cancels a watch on the hub's own account; its tag waits for the shell to route the
    /// `.cancel` action.
    private mutating func retire(_ id: WatchID, _ error: WatchError) -> WatchAction {
        if let tag = tag(of: id) { cancelledTags[id] = tag }
        cancel(id)
        return .cancel(id, error)
    }

    /// Records one committed revision and delivers it to the watchers that are caught up.
    public mutating func onCommit(revision rev: Int64, events: [TreeEvent]) -> [WatchAction] {
        precondition(rev == revision + 1, "revisions must arrive in order: got \(rev) after \(revision)")
        precondition(events.allSatisfy { $0.rev == rev }, "events must carry their revision")
        revision = rev
        appendToHistory(events)
        var candidates = Set<UInt32>()
        for event in events { index.collect(event.path, into: &candidates) }
        candidatesLastCommit = candidates.count
        var actions: [WatchAction] = []
        // In watch-id order (the order they were started), so the actions are deterministic.
        let found = candidates.compactMap { slot in slots[Int(slot)].map { (slot: Int(slot), watcher: $0) } }
        for (slot, watcher) in found.sorted(by: { $0.watcher.id < $1.watcher.id }) {
            guard !watcher.isBehind, rev >= watcher.from else { continue }
            let matching = events.filter { watcher.glob.matches($0.path) }
            guard !matching.isEmpty else { continue }
            let bytes = matching.reduce(0) { $0 + Self.size(of: $1) }
            if Int(watcher.pendingBytes) + bytes <= limits.maxPendingBytes || watcher.pendingBytes == 0 {
                slots.update(slot) { watcher in
                    watcher!.pendingBytes += UInt32(clamping: bytes)
                    watcher!.deliveredSinceTick = true
                }
                actions.append(.deliver(watcher.id, matching))
            } else {
                // Over its budget: it stays at `rev` and catches up from history once it drains.
                slots.update(slot) { $0!.behindAt = rev }
                behind.insert(watcher.id)
            }
        }
        return actions + cancelWatchersBehindHistory()
    }

    /// Moves to `rev` through revisions that changed nothing under this hub (a store shared
    /// with other data, or a progress report), so watches from 0 start after it. History
    /// stays valid: those revisions have no events to replay.
    public mutating func advance(to rev: Int64) {
        precondition(rev >= revision, "revisions must not go back: \(rev) after \(revision)")
        revision = rev
    }

    /// Ends every watch with `error` (the store lost events it can no longer deliver).
    public mutating func cancelAll(_ error: WatchError) -> [WatchAction] {
        slots.indices.compactMap { slot in slots[slot].map { retire($0.id, error) } }
    }

    /// The shell sent `bytes` of a watcher's deliveries; it may receive more now.
    public mutating func onSent(_ id: WatchID, bytes: Int) -> [WatchAction] {
        guard let slot = slot(of: id) else { return [] }
        slots.update(slot) { $0!.pendingBytes = UInt32(max(0, Int($0!.pendingBytes) - bytes)) }
        return pump(id)
    }

    /// Progress for every caught-up watcher that received nothing since the last tick.
    public mutating func onProgressTick() -> [WatchAction] {
        var actions: [WatchAction] = []
        let revision = self.revision
        for slot in slots.indices {
            slots.update(slot) { watcher in
                guard watcher != nil else { return }
                if !watcher!.deliveredSinceTick, !watcher!.isBehind {
                    actions.append(.progress(watcher!.id, revision: revision))
                }
                watcher!.deliveredSinceTick = false
            }
        }
        return actions
    }

    /// Delivers history to a watcher that is behind, whole revisions at a time, while its budget lasts.
    private mutating func pump(_ id: WatchID) -> [WatchAction] {
        guard let slot = slot(of: id), var watcher = slots[slot], watcher.isBehind else { return [] }
        var next = watcher.behindAt
        if next < historyStart { return [retire(id, .slowConsumer(resumeFrom: next))] }
        var batch: [TreeEvent] = []
        var index = firstIndex(atOrAfter: next)
        while index < history.count {
            let rev = history[index].rev
            var end = index
            while end < history.count, history[end].rev == rev { end += 1 }
            let matching = history[index..<end].filter { watcher.glob.matches($0.path) }
            let bytes = matching.reduce(0) { $0 + Self.size(of: $1) }
            if !matching.isEmpty, Int(watcher.pendingBytes) + bytes > limits.maxPendingBytes, watcher.pendingBytes > 0 { break }
            batch += matching
            watcher.pendingBytes += UInt32(clamping: bytes)
            next = rev + 1
            index = end
        }
        if index >= history.count {
            watcher.behindAt = Watcher.caughtUp
            behind.remove(id)
        } else {
            watcher.behindAt = next
        }
        if !batch.isEmpty { watcher.deliveredSinceTick = true }
        slots[slot] = watcher
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

    /// The slot of a live watch, from its id.
    private func slot(of id: WatchID) -> Int? {
        let slot = Int(id.rawValue & 0xffff_ffff)
        guard slot < slots.count, slots[slot]?.id == id else { return nil }
        return slot
    }

    /// Only watchers that are behind can fall out of history.
    private mutating func cancelWatchersBehindHistory() -> [WatchAction] {
        guard !behind.isEmpty else { return [] }
        let out = behind.filter { id in slot(of: id).flatMap { slots[$0]?.behindAt }.map { $0 < historyStart } ?? false }.sorted()
        return out.map { id in retire(id, .slowConsumer(resumeFrom: slots[slot(of: id)!]!.behindAt)) }
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
