import SkynetTree

/// The watches of a `CoordinatorClient` and their subscriptions, as a pure core.
///
/// It decides which watch each wire id feeds (one fresh wire id per subscription, so
/// answers and events of an earlier subscription are never taken for a later one's),
/// where each watch resumes after a reconnect (the revision after the last it delivered:
/// no gap, no duplicate), when a watch pauses because its consumer fell `maxBuffered`
/// updates behind and when it resumes, and what each notification hands to whom. The
/// shell (`CoordinatorClient`) owns connections, calls and tasks and does what this says.
/// `Sink` is where a watch's updates go: the shell's stream continuation.
struct CoordinatorWatchTable<Sink: Sendable>: Sendable {
    struct Entry: Sendable {
        var glob: String
        /// The first revision not yet delivered; 0 until the first subscription answers.
        var nextRev: Int64
        var sink: Sink
        /// The connection and wire id of the live subscription, if any.
        var subscribedOn: ObjectIdentifier?
        var wireID: UInt64?
        /// A subscription call is under way.
        var subscribing = false
        /// Updates handed to the sink and not yet taken by the consumer.
        var buffered = 0
        /// The consumer fell behind: the subscription was dropped and resumes from
        /// `nextRev` once it has taken half of what is buffered.
        var paused = false
    }

    /// What a subscription call needs.
    struct Claim: Equatable, Sendable {
        var wire: UInt64
        var glob: String
        var fromRev: Int64
    }

    /// What to do about a subscription the server cancelled.
    enum Cancellation {
        /// It fell behind on the server: subscribe the watch again (from where it is).
        case resubscribe(UInt64)
        /// It ended for good: finish the watch's sink with the error.
        case finish(Sink)
    }

    /// Updates buffered for a consumer before its watch pauses.
    let maxBuffered: Int
    private var entries: [UInt64: Entry] = [:]
    /// Which watch each wire id feeds.
    private var routes: [UInt64: UInt64] = [:]
    private var nextWatch: UInt64 = 0
    private var nextWire: UInt64 = 0

    init(maxBuffered: Int) {
        self.maxBuffered = maxBuffered
    }

    /// The watches, by id.
    var ids: [UInt64] { Array(entries.keys) }
    var isEmpty: Bool { entries.isEmpty }
    func contains(_ id: UInt64) -> Bool { entries[id] != nil }
    func entry(_ id: UInt64) -> Entry? { entries[id] }

    /// Adds a watch of `glob` from `fromRev` (0 = from the revision its first subscription
    /// answers with); returns its id.
    mutating func add(glob: String, fromRev: Int64, sink: Sink) -> UInt64 {
        nextWatch += 1
        entries[nextWatch] = Entry(glob: glob, nextRev: fromRev, sink: sink)
        return nextWatch
    }

    /// Watch `id` may subscribe on `connection` now: it gets a fresh wire id. `nil` when it
    /// is gone, paused, already subscribing, or already subscribed there.
    mutating func claim(_ id: UInt64, on connection: ObjectIdentifier) -> Claim? {
        guard var entry = entries[id], !entry.paused, !entry.subscribing, entry.subscribedOn != connection else { return nil }
        nextWire += 1
        entry.subscribing = true
        if let old = entry.wireID { routes[old] = nil }
        entry.wireID = nextWire
        routes[nextWire] = id
        entries[id] = entry
        return Claim(wire: nextWire, glob: entry.glob, fromRev: entry.nextRev)
    }

    /// The server took subscription `wire` at revision `current`. False when the watch
    /// ended or moved on meanwhile: the shell must undo the subscription.
    mutating func subscribed(_ id: UInt64, wire: UInt64, on connection: ObjectIdentifier, current: Int64) -> Bool {
        guard var entry = entries[id], entry.wireID == wire else { return false }
        entry.subscribing = false
        entry.subscribedOn = connection
        if entry.nextRev == 0 { entry.nextRev = current + 1 }
        entries[id] = entry
        return true
    }

    /// The subscription call failed in a way worth retrying (no connection, no answer).
    mutating func subscribeFailed(_ id: UInt64) {
        entries[id]?.subscribing = false
    }

    /// The subscription was refused for good (a bad glob, a compacted start): the watch
    /// ends; returns its sink to finish.
    mutating func subscribeRefused(_ id: UInt64, wire: UInt64) -> Sink? {
        routes[wire] = nil
        return entries.removeValue(forKey: id)?.sink
    }

    /// Events for the subscriptions `wires` (one notification may serve several): the
    /// updates to hand out, and the wires of watches that paused (to unwatch on the server).
    mutating func events(_ events: [TreeEvent], for wires: [UInt64]) -> (updates: [(Sink, WatchUpdate)], paused: [UInt64]) {
        var updates: [(Sink, WatchUpdate)] = []
        var paused: [UInt64] = []
        updates.reserveCapacity(wires.count)
        for wire in wires {
            // Changed in place: a notification may serve hundreds of watches.
            guard let id = routes[wire], let index = entries.index(forKey: id), !entries.values[index].paused else { continue }
            let nextRev = entries.values[index].nextRev
            // After a reconnect the old connection may still hand over events the new
            // subscription repeats; keep only what is new (events come in revision order,
            // so when the first is new, all are, and the array is shared, not copied).
            let fresh = events.first.map { $0.rev >= nextRev } == true ? events : events.filter { $0.rev >= nextRev }
            guard let last = fresh.last else { continue }
            if entries.values[index].buffered >= maxBuffered {
                // The consumer is behind: drop this subscription; resume from `nextRev`
                // (these events included) once it has caught up.
                entries.values[index].paused = true
                entries.values[index].subscribedOn = nil
                entries.values[index].wireID = nil
                routes[wire] = nil
                paused.append(wire)
                continue
            }
            entries.values[index].nextRev = last.rev + 1
            entries.values[index].buffered += 1
            updates.append((entries.values[index].sink, WatchUpdate(revision: last.rev, events: fresh)))
        }
        return (updates, paused)
    }

    /// The server says nothing watched by `wires` changed up to `rev`: progress for the
    /// idle consumers among them (one with updates waiting needs none).
    mutating func progress(_ rev: Int64, for wires: [UInt64]) -> [(Sink, WatchUpdate)] {
        var updates: [(Sink, WatchUpdate)] = []
        for wire in wires {
            guard let id = routes[wire], var entry = entries[id], !entry.paused, entry.buffered == 0,
                  entry.nextRev > 0, rev >= entry.nextRev - 1 else { continue }
            entry.nextRev = max(entry.nextRev, rev + 1)
            entry.buffered += 1
            entries[id] = entry
            updates.append((entry.sink, WatchUpdate(revision: rev, events: [])))
        }
        return updates
    }

    /// The server cancelled subscription `wire`; `nil` when it feeds nothing any more.
    mutating func cancelled(wire: UInt64, slowConsumer: Bool) -> Cancellation? {
        guard let id = routes.removeValue(forKey: wire) else { return nil }
        if slowConsumer {
            // Everything before its resume revision arrived; subscribe again from there.
            entries[id]?.subscribedOn = nil
            entries[id]?.wireID = nil
            return .resubscribe(id)
        }
        return entries.removeValue(forKey: id).map { .finish($0.sink) }
    }

    /// The consumer of watch `id` took an update. True when the watch was paused and has
    /// now drained half its buffer: subscribe it again.
    mutating func consumed(_ id: UInt64) -> Bool {
        guard let index = entries.index(forKey: id) else { return false }
        entries.values[index].buffered = max(0, entries.values[index].buffered - 1)
        let resume = entries.values[index].paused && entries.values[index].buffered <= maxBuffered / 2
        if resume { entries.values[index].paused = false }
        return resume
    }

    /// `connection` closed: the watches subscribed on it need a new subscription.
    mutating func connectionLost(_ connection: ObjectIdentifier) {
        for id in entries.keys where entries[id]?.subscribedOn == connection {
            entries[id]?.subscribedOn = nil
        }
    }

    /// The consumer stopped: watch `id` ends. Returns its wire id when its subscription
    /// lives on `live` (the client's current connection), to unwatch there.
    mutating func drop(_ id: UInt64, live: ObjectIdentifier?) -> UInt64? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        if let wire = entry.wireID { routes[wire] = nil }
        guard let live, entry.subscribedOn == live else { return nil }
        return entry.wireID
    }

    /// The client closed: every watch ends; returns their sinks to finish.
    mutating func removeAll() -> [Sink] {
        defer {
            entries = [:]
            routes = [:]
        }
        return entries.values.map(\.sink)
    }
}
