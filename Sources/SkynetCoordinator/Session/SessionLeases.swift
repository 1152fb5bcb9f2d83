import HeapModule

/// When each session expires: the leader-local timing half of sessions, as a pure core.
///
/// The replicated half (which sessions exist, their TTL, their files) lives in the state
/// machine; this core only tracks deadlines and never decides alone: `expired(now:)`
/// names sessions whose deadline passed, the shell proposes an expiry command for each,
/// and the session is gone only when that command is applied. Time is a `Duration` since
/// an origin the shell chooses (a monotonic clock), so tests drive it by hand.
/// Like etcd's lessor, a new leader (or a restarted node) grants every session a full
/// TTL again rather than trusting a clock it did not own.
public struct SessionLeases: Sendable {
    struct Lease: Sendable {
        var ttl: Duration
        var deadline: Duration
        /// An expiry command is in flight; do not propose another.
        var expiring = false
        /// The deadline of this lease's entry in the heap (nil while expiring). Entries
        /// whose deadline differs are leftovers of a revoke or a re-grant, dropped when
        /// they come up.
        var queuedAt: Duration?
    }

    /// An entry of the deadline heap. A live lease that is not expiring has one current
    /// entry, at or before its deadline: a renewal only moves the lease's deadline (O(1)),
    /// and the entry is pushed back to it when it comes up. So `expired(now:)` looks only
    /// at entries that are due, never at every session.
    struct Due: Comparable, Sendable {
        var deadline: Duration
        var session: UInt64

        static func < (a: Due, b: Due) -> Bool { (a.deadline, a.session) < (b.deadline, b.session) }
    }

    private var leases: [UInt64: Lease] = [:]
    private var heap = Heap<Due>()
    /// The time the shell's expiry timer was last told to fire at (nil: not armed).
    private var announced: Duration?

    /// How long after a check that found an expiry the log refused to look again, so a
    /// failing log is not asked in a loop.
    public static let retryAfter = Duration.milliseconds(100)

    /// Creates an empty table.
    public init() {}

    /// Number of live sessions.
    public var count: Int { leases.count }

    /// Entries in the deadline heap: one per live lease, plus leftovers of revoked or
    /// re-granted leases until their old deadline passes.
    package var queued: Int { heap.count }

    /// Starts (or restarts) the lease of `session`: it expires `ttl` after `now`.
    public mutating func grant(_ session: UInt64, ttl: Duration, now: Duration) {
        var lease = Lease(ttl: ttl, deadline: now + ttl)
        if let old = leases[session], let queuedAt = old.queuedAt, queuedAt <= lease.deadline {
            lease.queuedAt = queuedAt   // the current entry comes up first; it will be pushed back
        } else {
            lease.queuedAt = lease.deadline
            heap.insert(Due(deadline: lease.deadline, session: session))
        }
        leases[session] = lease
    }

    /// Renews `session` for a full TTL. Returns its TTL, or `nil` when the session is
    /// unknown or already expiring (its keepalive came too late).
    public mutating func renew(_ session: UInt64, now: Duration) -> Duration? {
        guard var lease = leases[session], !lease.expiring else { return nil }
        lease.deadline = max(lease.deadline, now + lease.ttl)
        leases[session] = lease
        return lease.ttl
    }

    /// Forgets `session` (it was closed or its expiry was applied).
    public mutating func revoke(_ session: UInt64) {
        leases[session] = nil
    }

    /// True when `session` has a lease that is not expiring.
    public func isLive(_ session: UInt64) -> Bool {
        leases[session].map { !$0.expiring } ?? false
    }

    /// The sessions whose deadline is at or before `now` and that have no expiry in flight,
    /// sorted; each is marked expiring. Costs O(log n) per entry that came up, whatever the
    /// number of sessions.
    public mutating func expired(now: Duration) -> [UInt64] {
        var due: [UInt64] = []
        while let top = heap.min, top.deadline <= now {
            heap.removeMin()
            guard var lease = leases[top.session], !lease.expiring, lease.queuedAt == top.deadline else { continue }
            if lease.deadline > now {
                lease.queuedAt = lease.deadline
                heap.insert(Due(deadline: lease.deadline, session: top.session))
            } else {
                lease.expiring = true
                lease.queuedAt = nil
                due.append(top.session)
            }
            leases[top.session] = lease
        }
        due.sort()
        return due
    }

    /// An expiry proposal failed (for instance the log refused it); try again later.
    public mutating func expiryFailed(_ session: UInt64) {
        guard var lease = leases[session], lease.expiring else { return }
        lease.expiring = false
        lease.queuedAt = lease.deadline
        heap.insert(Due(deadline: lease.deadline, session: session))
        leases[session] = lease
    }

    /// A time at or before the next expiry (nil when nothing is queued): when to look again.
    public var nextDeadline: Duration? { heap.min?.deadline }

    /// When the shell's single expiry timer must fire after a check at `now` (nil: nothing
    /// queued, no timer). A deadline already due (an expiry the log refused) is looked at
    /// again `retryAfter` later. The answer is remembered as the armed time.
    public mutating func nextCheck(now: Duration) -> Duration? {
        announced = nextDeadline.map { $0 > now ? $0 : now + Self.retryAfter }
        return announced
    }

    /// After grants: the next deadline when it comes before the armed time (the timer
    /// must move up), else nil. The answer is remembered as the armed time.
    public mutating func earlierDeadline() -> Duration? {
        guard let next = nextDeadline, announced.map({ next < $0 }) ?? true else { return nil }
        announced = next
        return next
    }
}
