import Synchronization

/// One waiter that sleeps until a deadline or until rung, whichever comes first: the
/// firing loop's wake-up, moved earlier when a timer due sooner arrives.
final class Alarm: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        var rung = false
    }

    private let state = Mutex(State())

    /// Wakes the waiter now (or makes its next wait return at once).
    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns after `delay`, when rung, or when the task is cancelled.
    func wait(_ delay: Duration) async {
        let sleeper = Task {
            try? await Task.sleep(for: delay)
            self.ring()
        }
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
                if now { continuation.resume() }
            }
        } onCancel: {
            self.ring()
        }
        sleeper.cancel()
        state.withLock { $0.rung = false }
    }
}
