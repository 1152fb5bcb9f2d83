import DequeModule

/// Bounded concurrency for callbacks, per destination and in all: at most `perKey` attempts
/// run at once for one destination (a receiver's host, a Skynet service) and at most `limit`
/// in all; the rest wait in order. A pure value; the shell starts what `enqueue` returns and
/// asks `finished` what to run next on the slot that just freed.
///
/// Per destination, so a slow or dead receiver holds only its own slots while the others'
/// timers go on; and no more at once than the HTTP client keeps connections to one host, so
/// attempts never queue inside it (where each waiting request costs a timer of its own).
/// Destinations with work waiting take freed slots in turn.
package struct DeliverySlots<Key: Hashable, Item> {
    /// Most attempts running at once for one destination.
    package let perKey: Int
    /// Most attempts running at once in all.
    package let limit: Int
    /// Attempts running now.
    package private(set) var running = 0
    /// Attempts waiting for a slot.
    package private(set) var queued = 0
    private var runningByKey: [Key: Int] = [:]
    private var waiting: [Key: Deque<Item>] = [:]
    /// Destinations with an attempt waiting and a slot of their own free, in turn order;
    /// `isReady` mirrors it.
    private var ready = Deque<Key>()
    private var isReady: Set<Key> = []

    package init(perKey: Int, limit: Int) {
        precondition(perKey > 0 && limit >= perKey)
        self.perKey = perKey
        self.limit = limit
    }

    /// Attempts running now for `key`.
    package func running(_ key: Key) -> Int { runningByKey[key] ?? 0 }

    /// Queues `items` and returns those that get a slot now, in order per destination.
    package mutating func enqueue(_ items: some Sequence<(key: Key, item: Item)>) -> [(key: Key, item: Item)] {
        for (key, item) in items {
            waiting[key, default: []].append(item)
            queued += 1
            markIfReady(key)
        }
        var started: [(key: Key, item: Item)] = []
        while running < limit, let next = startNext() { started.append(next) }
        return started
    }

    /// A running attempt for `key` ended: the next waiting one takes its slot (returned), or
    /// the slot frees (`nil`).
    package mutating func finished(_ key: Key) -> (key: Key, item: Item)? {
        let left = (runningByKey[key] ?? 1) - 1
        runningByKey[key] = left == 0 ? nil : left
        running -= 1
        markIfReady(key)
        return startNext()
    }

    private mutating func markIfReady(_ key: Key) {
        guard !isReady.contains(key), running(key) < perKey, waiting[key]?.isEmpty == false else { return }
        ready.append(key)
        isReady.insert(key)
    }

    /// Starts the oldest waiting attempt of the destination whose turn it is.
    private mutating func startNext() -> (key: Key, item: Item)? {
        guard running < limit, let key = ready.popFirst() else { return nil }
        isReady.remove(key)
        let item = waiting[key]!.removeFirst()
        if waiting[key]!.isEmpty { waiting[key] = nil }
        queued -= 1
        running += 1
        runningByKey[key, default: 0] += 1
        markIfReady(key)
        return (key, item)
    }
}
