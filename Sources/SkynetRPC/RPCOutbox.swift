import Synchronization

/// Calls made off the event loop, waiting for it to write them.
///
/// Callers on many tasks answer at once (a burst of responses wakes them together); one
/// event-loop task then writes every call made meanwhile and flushes once, where a task and
/// a flush per call would cost a syscall and a TCP segment each. Order is kept: calls leave
/// in the order they were added.
final class RPCOutbox: Sendable {
    private let waiting = Mutex<[RPCOutboundCall]>([])

    /// Adds `call`; true when the outbox was empty, so the caller must schedule a `take`.
    func add(_ call: RPCOutboundCall) -> Bool {
        waiting.withLock { calls in
            calls.append(call)
            return calls.count == 1
        }
    }

    /// Everything waiting, oldest first; the outbox is empty after.
    func take() -> [RPCOutboundCall] {
        waiting.withLock { calls in
            var taken: [RPCOutboundCall] = []
            swap(&taken, &calls)
            return taken
        }
    }
}
