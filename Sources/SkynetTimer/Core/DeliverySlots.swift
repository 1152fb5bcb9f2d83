import DequeModule

/// Bounded concurrency for callbacks: at most `limit` attempts run at once, the rest wait
/// in order. A pure value; the shell starts what `enqueue` returns and asks `finished` what
/// to run next on the slot that just freed.
package struct DeliverySlots<Item> {
    /// Most attempts running at once.
    package let limit: Int
    /// Attempts running now.
    package private(set) var running = 0
    private var waiting = Deque<Item>()

    package init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Attempts waiting for a slot.
    package var queued: Int { waiting.count }

    /// Queues `items` and returns those that get a slot now, in order.
    package mutating func enqueue(_ items: some Sequence<Item>) -> [Item] {
        waiting.append(contentsOf: items)
        let start = Array(waiting.prefix(max(0, limit - running)))
        waiting.removeFirst(start.count)   // a Deque: O(taken), however long the queue
        running += start.count
        return start
    }

    /// A running attempt ended: the next waiting one takes its slot (returned), or the slot
    /// frees (`nil`).
    package mutating func finished() -> Item? {
        guard let next = waiting.popFirst() else {
            running -= 1
            return nil
        }
        return next
    }
}
