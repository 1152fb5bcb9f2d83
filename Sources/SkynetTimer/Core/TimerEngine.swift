import Foundation

/// The timer service's scheduling core: the timers of the shards this instance owns, a
/// `TimerWheel` over their due times, and the delivery rules (attempts, backoff, `failed`).
///
/// Pure: the shell says what time it is (milliseconds since 1970), passes the random
/// jitter in, and carries out what comes back (deliver, persist, delete). A pending timer
/// costs a compact entry, its wheel node and its shard's set membership; callbacks are
/// shared between timers that name the same one.
package struct TimerEngine {
    /// Delivery rules.
    package struct Configuration: Sendable {
        /// Wait before the first retry (ms); doubled for each one after.
        package var backoffBase: Int64 = 500
        /// Longest wait between attempts (ms).
        package var backoffCap: Int64 = 60_000

        package init(backoffBase: Int64 = 500, backoffCap: Int64 = 60_000) {
            self.backoffBase = backoffBase
            self.backoffCap = backoffCap
        }
    }

    /// One delivery attempt to make: `record.attempts` is this attempt's number (from 1).
    /// `incarnation` ties the outcome to this version of the timer (an update in between
    /// makes the outcome stale).
    package struct Delivery: Sendable {
        package var record: TimerRecord
        package var incarnation: UInt32
    }

    private struct Entry {
        var due: Int64
        var timeout: Int32
        var callback: UInt32
        var retries: UInt8
        var attempts: UInt16
        var state: TimerState
        var shard: UInt8
        var incarnation: UInt32
        var data: [UInt8]
        var handle: TimerWheel<UUID>.Handle?
    }

    package let configuration: Configuration
    private var wheel: TimerWheel<UUID>
    private var entries: [UUID: Entry] = [:]
    private var shards: [UInt8: Set<UUID>] = [:]
    private var lastErrors: [UUID: String] = [:]
    private var callbacks = CallbackTable()

    /// An empty engine whose clock reads `now`.
    package init(configuration: Configuration = .init(), now: Int64) {
        self.configuration = configuration
        wheel = TimerWheel(now: now)
    }

    /// Timers held (pending, delivering and failed).
    package var count: Int { entries.count }

    /// The earliest time `fire` may have something to deliver.
    package func nextWake() -> Int64? { wheel.nextWake() }

    /// Adds a durable timer (created, updated, or loaded with its shard), replacing any
    /// timer with its id. A pending one is scheduled at its due time (at once if overdue).
    package mutating func add(_ record: TimerRecord, shard: Int) {
        if entries[record.id] != nil { _ = remove(record.id) }
        var entry = Entry(
            due: record.due, timeout: Int32(clamping: record.spec.timeout), callback: callbacks.intern(record.spec.callback),
            retries: UInt8(clamping: record.spec.retries), attempts: UInt16(clamping: record.attempts),
            state: record.state == .failed ? .failed : .pending, shard: UInt8(shard), incarnation: nextIncarnation(), data: record.spec.data)
        if entry.state == .pending { entry.handle = wheel.schedule(record.id, at: record.due) }
        if let error = record.lastError { lastErrors[record.id] = error }
        entries[record.id] = entry
        shards[UInt8(shard), default: []].insert(record.id)
    }

    /// Removes a timer (cancelled, or gone from the store); `nil` when unknown.
    @discardableResult
    package mutating func remove(_ id: UUID) -> TimerRecord? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        let record = self.record(id, entry)
        if let handle = entry.handle { _ = wheel.cancel(handle) }
        shards[entry.shard]?.remove(id)
        lastErrors[id] = nil
        callbacks.release(entry.callback)
        return record
    }

    /// Drops every timer of `shard` (it moved to another instance): none of them fires here again.
    package mutating func unload(shard: Int) {
        for id in shards.removeValue(forKey: UInt8(shard)) ?? [] { remove(id) }
    }

    /// The timer with `id`, as the API shows it.
    package func record(_ id: UUID) -> TimerRecord? {
        entries[id].map { record(id, $0) }
    }

    /// The ids of `shard`'s timers.
    package func ids(inShard shard: Int) -> Set<UUID> { shards[UInt8(shard)] ?? [] }

    /// Moves the clock to `now` and returns the attempts now due, in due order; their
    /// timers are `delivering` until `delivered` or `failed` says how it went.
    package mutating func fire(now: Int64) -> [Delivery] {
        wheel.advance(to: now).compactMap { fired in
            guard var entry = entries[fired.payload] else { return nil }
            entry.handle = nil
            entry.state = .delivering
            entry.attempts &+= 1
            entries[fired.payload] = entry
            return Delivery(record: record(fired.payload, entry), incarnation: entry.incarnation)
        }
    }

    /// True while `delivery` is still due to be made: its timer is held, not cancelled or
    /// replaced since it fired (a queued attempt for a shard that moved away is dropped; the
    /// new holder makes it).
    package func isCurrent(_ delivery: Delivery) -> Bool {
        entries[delivery.record.id]?.incarnation == delivery.incarnation
    }

    /// The attempt succeeded: the timer is done. True when it was still this incarnation
    /// (the caller then deletes it from the store).
    package mutating func delivered(_ delivery: Delivery) -> Bool {
        guard entries[delivery.record.id]?.incarnation == delivery.incarnation else { return false }
        remove(delivery.record.id)
        return true
    }

    /// The attempt failed with `error`. Schedules a retry after a jittered exponential
    /// backoff (`jitter` in 0...1 picks within the upper half of the wait), or, when the
    /// retries are spent, keeps the timer as `failed`. Returns the record to persist, `nil`
    /// when the outcome is stale.
    package mutating func failed(_ delivery: Delivery, error: String, now: Int64, jitter: Double) -> TimerRecord? {
        let id = delivery.record.id
        guard var entry = entries[id], entry.incarnation == delivery.incarnation else { return nil }
        lastErrors[id] = error
        if Int(entry.attempts) > Int(entry.retries) {
            entry.state = .failed
        } else {
            entry.state = .pending
            entry.due = now + backoff(attempt: Int(entry.attempts), jitter: jitter)
            entry.handle = wheel.schedule(id, at: entry.due)
        }
        entries[id] = entry
        return record(id, entry)
    }

    /// The wait before the attempt after `attempt`: base × 2^(attempt − 1), capped, of which
    /// a random upper half is taken.
    package func backoff(attempt: Int, jitter: Double) -> Int64 {
        let full = min(configuration.backoffCap, configuration.backoffBase << Int64(min(max(attempt - 1, 0), 30)))
        return full / 2 + Int64(Double(full / 2) * min(max(jitter, 0), 1))
    }

    private func record(_ id: UUID, _ entry: Entry) -> TimerRecord {
        TimerRecord(
            id: id, due: entry.due,
            spec: TimerSpec(timeout: Int64(entry.timeout), data: entry.data, callback: callbacks[entry.callback], retries: Int(entry.retries)),
            attempts: Int(entry.attempts), state: entry.state, lastError: lastErrors[id])
    }

    private var incarnations: UInt32 = 0
    private mutating func nextIncarnation() -> UInt32 {
        incarnations &+= 1
        return incarnations
    }
}

/// Callbacks shared by the timers that name them, counted so unused ones go.
private struct CallbackTable {
    private var callbacks: [TimerCallback?] = []
    private var uses: [Int] = []
    private var index: [TimerCallback: UInt32] = [:]
    private var free: [UInt32] = []

    subscript(slot: UInt32) -> TimerCallback { callbacks[Int(slot)]! }

    mutating func intern(_ callback: TimerCallback) -> UInt32 {
        if let slot = index[callback] {
            uses[Int(slot)] += 1
            return slot
        }
        let slot: UInt32
        if let reused = free.popLast() {
            slot = reused
            callbacks[Int(slot)] = callback
            uses[Int(slot)] = 1
        } else {
            slot = UInt32(callbacks.count)
            callbacks.append(callback)
            uses.append(1)
        }
        index[callback] = slot
        return slot
    }

    mutating func release(_ slot: UInt32) {
        uses[Int(slot)] -= 1
        guard uses[Int(slot)] == 0, let callback = callbacks[Int(slot)] else { return }
        index[callback] = nil
        callbacks[Int(slot)] = nil
        free.append(slot)
    }
}
