import NIOCore
import NIOPosix
import Synchronization

/// One waiter that sleeps until a deadline or until rung, whichever comes first: the
/// firing loop's wake-up, moved earlier when a timer due sooner arrives.
///
/// The deadline is a NIO scheduled task (a heap entry on an event loop), not a sleeping
/// `Task`: the fire loop waits once per wake-up, up to a thousand times a second.
final class Alarm: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        var deadline: Scheduled<Void>?
        var rung = false
    }

    private let state = Mutex(State())
    private let loop = MultiThreadedEventLoopGroup.singleton.next()

    /// Wakes the waiter now (or makes its next wait return at once).
    func ring() {
        let (waiter, deadline) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Scheduled<Void>?) in
            guard let waiter = state.waiter else {
                state.rung = true
                return (nil, nil)
            }
            defer { state.waiter = nil; state.deadline = nil }
            return (waiter, state.deadline)
        }
        deadline?.cancel()
        waiter?.resume()
    }

    /// Returns after `delay`, when rung, or when the task is cancelled.
    func wait(_ delay: Duration) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now {
                    continuation.resume()
                    return
                }
                let (seconds, attoseconds) = delay.components
                let deadline = loop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) { self.ring() }
                // Rung in between: the waiter is gone already, and so must the deadline be.
                let keep = state.withLock { state -> Bool in
                    guard state.waiter != nil else { return false }
                    state.deadline = deadline
                    return true
                }
                if !keep { deadline.cancel() }
            }
        } onCancel: {
            self.ring()
        }
    }
}
