/// When the log's flush thread waits for more appends before writing a batch.
///
/// Group commit under load, in the spirit of PostgreSQL's `commit_delay` with
/// `commit_siblings`: when the last batch held at least `lingerFrom` entries, writes arrive
/// faster than fsyncs finish, and the flush thread waits (up to `WriteAheadLog.linger`)
/// for four times as many before writing, so one fsync (and one apply, one wake-up per
/// event loop) carries more of them: 80 puts per fsync instead of 33 under
/// `sky-bench coordinator`. A lone writer's batch is small, and a log that went idle
/// forgets its last batch: neither ever waits.
struct GroupCommit: Sendable, Equatable {
    /// The smallest last batch that makes the next one wait.
    static let lingerFrom = 8
    /// How many times the last batch a waiting flush asks for.
    static let growth = 4

    /// Entries in the last batch written (0 after the log went idle).
    private(set) var lastBatch = 0
    /// While the flush thread waits: the pending count that wakes it early.
    private(set) var wakeAt: Int?

    /// A batch of `count` entries is taken for writing.
    mutating func took(_ count: Int) { lastBatch = count }

    /// Nothing was pending: the next batch starts a new burst, or is a lone write.
    mutating func wentIdle() { lastBatch = 0 }

    /// Whether to wait before taking a batch with `pending` entries waiting; when so, the
    /// count that ends the wait early is kept in `wakeAt`.
    mutating func shouldLinger(pending: Int) -> Bool {
        guard pending > 0, lastBatch >= Self.lingerFrom, pending < Self.growth * lastBatch else { return false }
        wakeAt = Self.growth * lastBatch
        return true
    }

    /// An append brought the pending count to `pending`: true when it must wake the
    /// waiting flush (once per wait).
    mutating func appended(pending: Int) -> Bool {
        guard let target = wakeAt, pending >= target else { return false }
        wakeAt = nil
        return true
    }

    /// The wait timed out; true when an append had already woken it (its signal is then
    /// still to be taken).
    mutating func timedOut() -> Bool {
        defer { wakeAt = nil }
        return wakeAt == nil
    }
}
