/// A hierarchical timing wheel (Varghese and Lauck): pending entries keyed by a due time in
/// milliseconds, O(1) to schedule and to cancel, fired in due order by `advance(to:)`.
///
/// A pure value: the caller owns the clock and says what time it is. Level 0 has 256 slots
/// of one millisecond; levels 1 to 5 have 64 slots each, every slot 64 times wider than the
/// one below, so the wheel spans 2^38 ms (about 8.7 years) ahead. An entry sits in the
/// lowest level whose span reaches its due time and moves down ("cascades") when the clock
/// reaches its slot. Occupancy bitmaps let `advance` jump over empty stretches, so a long
/// clock jump costs the slots it crosses that hold something, not every millisecond.
///
/// Entries live in one array with intrusive doubly linked slot lists and a free list, so a
/// pending entry costs its node (about 40 bytes plus the payload) and no allocation of its
/// own. Entries due at the same millisecond fire in the order they were scheduled.
package struct TimerWheel<Payload> {
    /// A scheduled entry, for `cancel`. Stale handles (fired or cancelled) are refused by
    /// their generation.
    package struct Handle: Hashable, Sendable {
        fileprivate var index: Int32
        fileprivate var generation: UInt32
    }

    private struct Node {
        var due: Int64
        var seq: UInt64
        var next: Int32
        var prev: Int32
        /// Slot index (see `slotIndex`), or -1 when the node is free.
        var slot: Int32
        var generation: UInt32
        var payload: Payload?
    }

    private static var level0Slots: Int { 256 }
    private static var upperSlots: Int { 64 }
    private static var upperLevels: Int { 5 }
    /// The slot that holds entries already due when they were scheduled.
    private static var overdueSlot: Int { level0Slots + upperLevels * upperSlots }

    private var nodes: [Node] = []
    private var freeHead: Int32 = -1
    private var heads: [Int32]
    /// Occupancy: words 0-3 for level 0, then one word per upper level.
    private var occupied: [UInt64]
    private var nextSeq: UInt64 = 0

    /// The time the wheel has advanced to (ms).
    package private(set) var now: Int64
    /// Pending entries.
    package private(set) var count = 0

    /// An empty wheel whose clock reads `now` (ms).
    package init(now: Int64) {
        self.now = now
        heads = Array(repeating: -1, count: Self.overdueSlot + 1)
        occupied = Array(repeating: 0, count: 4 + Self.upperLevels)
    }

    /// Schedules `payload` to fire at `due` (ms). An entry due at or before `now` fires at
    /// the next `advance`, ahead of everything due later.
    package mutating func schedule(_ payload: Payload, at due: Int64) -> Handle {
        let index: Int32
        if freeHead >= 0 {
            index = freeHead
            freeHead = nodes[Int(index)].next
            nodes[Int(index)].due = due
            nodes[Int(index)].seq = nextSeq
            nodes[Int(index)].payload = payload
        } else {
            index = Int32(nodes.count)
            nodes.append(Node(due: due, seq: nextSeq, next: -1, prev: -1, slot: -1, generation: 0, payload: payload))
        }
        nextSeq &+= 1
        count += 1
        place(index)
        return Handle(index: index, generation: nodes[Int(index)].generation)
    }

    /// Removes a pending entry and returns its payload; `nil` when the handle is stale.
    package mutating func cancel(_ handle: Handle) -> Payload? {
        let i = Int(handle.index)
        guard i < nodes.count, nodes[i].generation == handle.generation, nodes[i].slot >= 0 else { return nil }
        unlink(handle.index)
        count -= 1
        return release(handle.index)
    }

    /// The due time of a pending entry; `nil` when the handle is stale.
    package func due(of handle: Handle) -> Int64? {
        let i = Int(handle.index)
        guard i < nodes.count, nodes[i].generation == handle.generation, nodes[i].slot >= 0 else { return nil }
        return nodes[i].due
    }

    /// The earliest time at which `advance` may fire or move something: a lower bound on
    /// the next due time (never later than it), `nil` when nothing is pending. Arm a timer
    /// for it, advance, and ask again.
    package func nextWake() -> Int64? {
        guard count > 0 else { return nil }
        if heads[Self.overdueSlot] >= 0 { return now }
        return nextEvent(limit: .max)
    }

    /// Moves the clock to `time` (ms; earlier times are ignored) and returns every entry due
    /// by then, in due order (ties in scheduling order), with its due time.
    package mutating func advance(to time: Int64) -> [(due: Int64, payload: Payload)] {
        var fired: [(due: Int64, payload: Payload)] = []
        if heads[Self.overdueSlot] >= 0 { fire(slot: Self.overdueSlot, into: &fired) }
        while now < time {
            guard count > 0 else { now = time; break }
            let next = nextEvent(limit: time)
            now = next
            cascade(at: next)
            let slot = Int(next & 255)
            if heads[slot] >= 0 { fire(slot: slot, into: &fired) }
        }
        return fired
    }

    // MARK: Placement

    private static func shift(level: Int) -> Int64 { Int64(8 + 6 * (level - 1)) }

    /// Links a node into the slot for its due time. While cascading at `now`, an entry due
    /// exactly then goes to level 0's slot for `now`, which fires next.
    private mutating func place(_ index: Int32, cascading: Bool = false) {
        let due = nodes[Int(index)].due
        let slot: Int
        if due < now || (due == now && !cascading) {
            slot = Self.overdueSlot
        } else if due - now < 256 {
            slot = Int(due & 255)
        } else {
            let delta = due - now
            var level = 1
            while level < Self.upperLevels, delta >= Int64(1) << Self.shift(level: level + 1) { level += 1 }
            let position = min(due, now + (Int64(1) << Self.shift(level: Self.upperLevels + 1)) - 1)
            slot = Self.level0Slots + (level - 1) * Self.upperSlots + Int((position >> Self.shift(level: level)) & 63)
        }
        link(index, slot: slot)
    }

    private mutating func link(_ index: Int32, slot: Int) {
        let head = heads[slot]
        nodes[Int(index)].slot = Int32(slot)
        nodes[Int(index)].prev = -1
        nodes[Int(index)].next = head
        if head >= 0 { nodes[Int(head)].prev = index }
        heads[slot] = index
        if slot < Self.overdueSlot { occupied[Self.word(slot)] |= Self.bit(slot) }
    }

    private mutating func unlink(_ index: Int32) {
        let node = nodes[Int(index)]
        let slot = Int(node.slot)
        if node.prev >= 0 { nodes[Int(node.prev)].next = node.next } else { heads[slot] = node.next }
        if node.next >= 0 { nodes[Int(node.next)].prev = node.prev }
        if heads[slot] < 0, slot < Self.overdueSlot { occupied[Self.word(slot)] &= ~Self.bit(slot) }
        nodes[Int(index)].slot = -1
    }

    private mutating func release(_ index: Int32) -> Payload? {
        let payload = nodes[Int(index)].payload
        nodes[Int(index)].payload = nil
        nodes[Int(index)].generation &+= 1
        nodes[Int(index)].next = freeHead
        freeHead = index
        return payload
    }

    private static func word(_ slot: Int) -> Int {
        slot < level0Slots ? slot >> 6 : 4 + (slot - level0Slots) / upperSlots
    }

    private static func bit(_ slot: Int) -> UInt64 {
        UInt64(1) << UInt64((slot < level0Slots ? slot : slot - level0Slots) & 63)
    }

    // MARK: Advancing

    /// The first time after `now`, and no later than `limit`, at which a level-0 slot holds
    /// something or an occupied upper slot cascades.
    private func nextEvent(limit: Int64) -> Int64 {
        var best = limit
        // Level 0: the next occupied slot in this rotation, else in the next one.
        let offset = Int(now & 255), base = now & ~255
        if let slot = firstLevel0(from: offset + 1) {
            best = min(best, base + Int64(slot))
        } else if let slot = firstLevel0(from: 0), slot <= offset {
            best = min(best, base + 256 + Int64(slot))
        }
        for level in 1...Self.upperLevels {
            let bits = occupied[3 + level]
            guard bits != 0 else { continue }
            let shift = Self.shift(level: level)
            let current = Int((now >> shift) & 63)
            // Slots after the current one cascade in this rotation, the rest (the current one
            // included) in the next.
            let after = current == 63 ? 0 : bits & (~UInt64(0) << UInt64(current + 1))
            let distance: Int64
            if after != 0 {
                distance = Int64(after.trailingZeroBitCount - current)
            } else {
                distance = Int64(64 - current + bits.trailingZeroBitCount)
            }
            best = min(best, ((now >> shift) + distance) << shift)
        }
        return best
    }

    private func firstLevel0(from start: Int) -> Int? {
        guard start < 256 else { return nil }
        var word = start >> 6
        var bits = occupied[word] & (~UInt64(0) << UInt64(start & 63))
        while true {
            if bits != 0 { return word * 64 + bits.trailingZeroBitCount }
            word += 1
            guard word < 4 else { return nil }
            bits = occupied[word]
        }
    }

    /// At `time`, moves the entries of every upper slot that starts there down a level (or
    /// more), highest level first.
    private mutating func cascade(at time: Int64) {
        for level in stride(from: Self.upperLevels, through: 1, by: -1) {
            let shift = Self.shift(level: level)
            guard time & ((Int64(1) << shift) - 1) == 0 else { continue }
            let slot = Self.level0Slots + (level - 1) * Self.upperSlots + Int((time >> shift) & 63)
            var index = heads[slot]
            guard index >= 0 else { continue }
            heads[slot] = -1
            occupied[Self.word(slot)] &= ~Self.bit(slot)
            while index >= 0 {
                let next = nodes[Int(index)].next
                place(index, cascading: true)
                index = next
            }
        }
    }

    private mutating func fire(slot: Int, into fired: inout [(due: Int64, payload: Payload)]) {
        var batch: [(due: Int64, seq: UInt64, index: Int32)] = []
        var index = heads[slot]
        while index >= 0 {
            let node = nodes[Int(index)]
            batch.append((node.due, node.seq, index))
            index = node.next
        }
        heads[slot] = -1
        if slot < Self.overdueSlot { occupied[Self.word(slot)] &= ~Self.bit(slot) }
        batch.sort { ($0.due, $0.seq) < ($1.due, $1.seq) }
        for entry in batch {
            nodes[Int(entry.index)].slot = -1
            count -= 1
            if let payload = release(entry.index) { fired.append((entry.due, payload)) }
        }
    }
}
