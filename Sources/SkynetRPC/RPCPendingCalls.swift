/// The calls a client connection awaits answers for, with their deadlines: a pure core.
///
/// It decides which calls expire, when the connection's single timer must be (re)armed,
/// what a closed connection refuses, and when drain waiters may go; the NIO handler only
/// completes promises and schedules the timer. Deadlines are nanoseconds on a monotonic
/// clock the shell chooses. One timer serves all calls: with the usual uniform timeouts a
/// new call never moves it, so each call costs O(1) here.
struct RPCPendingCalls<Call, Waiter> {
    private struct Entry {
        let call: Call
        let deadline: UInt64?
    }

    private var calls: [UInt32: Entry] = [:]
    private var waiters: [Waiter] = []
    /// The deadline the shell's timer is armed for, if any.
    private(set) var armedDeadline: UInt64?
    /// Set once the connection is gone; later calls are refused with it.
    private(set) var closedError: RPCError?

    var isIdle: Bool { calls.isEmpty }

    /// Registers a call. Returns the deadline to (re)arm the timer for, or `nil` to leave it.
    mutating func add(_ msgid: UInt32, _ call: Call, deadline: UInt64?) throws(RPCError) -> UInt64? {
        if let closedError { throw closedError }
        calls[msgid] = Entry(call: call, deadline: deadline)
        guard let deadline, armedDeadline.map({ deadline < $0 }) ?? true else { return nil }
        armedDeadline = deadline
        return deadline
    }

    /// Takes a call out (answered, cancelled); also returns the drain waiters it frees.
    mutating func remove(_ msgid: UInt32) -> (call: Call?, idle: [Waiter]) {
        let entry = calls.removeValue(forKey: msgid)
        return (entry?.call, entry == nil ? [] : releaseIfIdle())
    }

    /// The timer went off at `now`: the calls past their deadline, and the next deadline to arm.
    mutating func timerFired(now: UInt64) -> (expired: [Call], rearm: UInt64?, idle: [Waiter]) {
        armedDeadline = nil
        var expired: [Call] = []
        var next: UInt64?
        for (msgid, entry) in calls {
            guard let deadline = entry.deadline else { continue }
            if deadline <= now {
                expired.append(entry.call)
                calls[msgid] = nil
            } else {
                next = min(next ?? deadline, deadline)
            }
        }
        armedDeadline = next
        return (expired, next, expired.isEmpty ? [] : releaseIfIdle())
    }

    /// The connection is gone: every call fails with `error` (the first reason wins).
    mutating func close(_ error: RPCError) -> (calls: [Call], idle: [Waiter]) {
        closedError = closedError ?? error
        let all = calls.values.map(\.call)
        calls.removeAll()
        armedDeadline = nil
        return (all, releaseIfIdle())
    }

    /// Parks `waiter` until no call is pending; returns it at once when that is already so.
    mutating func whenIdle(_ waiter: Waiter) -> Waiter? {
        if calls.isEmpty { return waiter }
        waiters.append(waiter)
        return nil
    }

    private mutating func releaseIfIdle() -> [Waiter] {
        guard calls.isEmpty else { return [] }
        defer { waiters.removeAll() }
        return waiters
    }
}
