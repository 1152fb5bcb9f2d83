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
    }

    private var leases: [UInt64: Lease] = [:]

    /// Creates an empty table.
    public init() {}

    /// Number of live sessions.
    public var count: Int { leases.count }

    /// Starts (or restarts) the lease of `session`: it expires `ttl` after `now`.
    public mutating func grant(_ session: UInt64, ttl: Duration, now: Duration) {
        leases[session] = Lease(ttl: ttl, deadline: now + ttl)
    }

    /// Renews `session` for a full TTL. Returns its TTL, or `nil` when the session is
    /// unknown or already expiring (its keepalive came too late).
    public mutating func renew(_ session: UInt64, now: Duration) -> Duration? {
        guard var lease = leases[session], !lease.expiring else { return nil }
        lease.deadline = now + lease.ttl
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
    /// sorted; each is marked expiring.
    public mutating func expired(now: Duration) -> [UInt64] {
        var due: [UInt64] = []
        for (session, lease) in leases where !lease.expiring && lease.deadline <= now {
            due.append(session)
        }
        due.sort()
        for session in due { leases[session]?.expiring = true }
        return due
    }

    /// An expiry proposal failed (for instance the log refused it); try again later.
    public mutating func expiryFailed(_ session: UInt64) {
        leases[session]?.expiring = false
    }

    /// The earliest deadline among sessions not already expiring.
    public var nextDeadline: Duration? {
        leases.values.lazy.filter { !$0.expiring }.map(\.deadline).min()
    }
}
