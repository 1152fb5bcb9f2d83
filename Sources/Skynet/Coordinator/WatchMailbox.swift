import DequeModule
import Synchronization

/// Where one watch's updates wait for its consumer: a queue with one producer (the client,
/// under its lock, so updates arrive in revision order) and one consumer.
///
/// What an `AsyncThrowingStream` did, made for this one element type: a change under a
/// prefix that a thousand watches follow is a thousand hand-overs on the client, and the
/// generic stream's runtime metadata lookups, its cancellation records and its lock were
/// most of what a hand-over cost there. When the consumer leaves (its task is cancelled
/// while it waits, or it drops the watch), `consumerLeft` runs the client's callback once.
final class WatchMailbox: Sendable {
    private enum Taken {
        case update(WatchUpdate)
        case end((any Error)?)
        case nothing
    }

    private struct State {
        var buffer = Deque<WatchUpdate>()
        var waiter: UnsafeContinuation<WatchUpdate?, any Error>?
        /// Set once the client finished the watch: `.some(nil)` for a plain end, else its
        /// error, which the consumer receives once (after the buffered updates).
        var end: (any Error)??
        /// The consumer left: nothing is buffered any more, and `next()` answers `nil`.
        var left = false
        var onLeave: (@Sendable () -> Void)?

        mutating func take() -> Taken {
            if let update = buffer.popFirst() { return .update(update) }
            if left { return .end(nil) }
            guard let end else { return .nothing }
            // The error is told once; later calls see a plain end.
            self.end = .some(nil)
            return .end(end)
        }
    }

    private let state = Mutex(State())

    /// A consumer is suspended in `next()` (for tests that must wake one).
    var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    /// Hands `update` to the consumer, waking it if it waits; dropped once the watch ended.
    func yield(_ update: WatchUpdate) {
        let waiter = state.withLock { state -> UnsafeContinuation<WatchUpdate?, any Error>? in
            guard state.end == nil, !state.left else { return nil }
            guard let waiter = state.waiter else {
                state.buffer.append(update)
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: update)
    }

    /// Ends the watch: the consumer takes what is buffered, then `error` (or the end).
    func finish(throwing error: (any Error)? = nil) {
        let waiter = state.withLock { state -> UnsafeContinuation<WatchUpdate?, any Error>? in
            guard state.end == nil, !state.left else { return nil }
            state.onLeave = nil
            // A consumer waits only on an empty buffer: it takes the end now.
            guard let waiter = state.waiter else {
                state.end = .some(error)
                return nil
            }
            state.waiter = nil
            state.end = .some(nil)
            return waiter
        }
        guard let waiter else { return }
        if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
    }

    /// Runs `body` once when the consumer leaves (at once if it already has); not after
    /// the client finished the watch.
    func onConsumerLeft(_ body: @escaping @Sendable () -> Void) {
        let leftAlready = state.withLock { state -> Bool in
            guard !state.left else { return true }
            if state.end == nil { state.onLeave = body }
            return false
        }
        if leftAlready { body() }
    }

    /// The consumer stopped: buffered updates go, a waiting `next()` answers `nil`.
    func consumerLeft() {
        let (waiter, onLeave) = state.withLock { state -> (UnsafeContinuation<WatchUpdate?, any Error>?, (@Sendable () -> Void)?) in
            guard !state.left else { return (nil, nil) }
            state.left = true
            state.buffer.removeAll()
            defer {
                state.waiter = nil
                state.onLeave = nil
            }
            return (state.waiter, state.onLeave)
        }
        waiter?.resume(returning: nil)
        onLeave?()
    }

    /// The next update; `nil` once the watch ended or the consumer's task was cancelled,
    /// the watch's error once when it ended with one. One consumer at a time.
    func next() async throws -> WatchUpdate? {
        // An update already waiting needs no suspension.
        switch state.withLock({ $0.take() }) {
        case .update(let update): return update
        case .end(let error?): throw error
        case .end(nil): return nil
        case .nothing: break
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<WatchUpdate?, any Error>) in
                let taken = state.withLock { state -> Taken in
                    let taken = state.take()
                    guard case .nothing = taken else { return taken }
                    precondition(state.waiter == nil, "a coordinator watch is iterated by one task at a time")
                    state.waiter = continuation
                    return .nothing
                }
                switch taken {
                case .update(let update): continuation.resume(returning: update)
                case .end(let error?): continuation.resume(throwing: error)
                case .end(nil): continuation.resume(returning: nil)
                case .nothing: break
                }
            }
        } onCancel: {
            consumerLeft()
        }
    }
}

/// Held by a `CoordinatorWatch` and its iterators: when the last of them goes, so has the
/// consumer (what an `AsyncThrowingStream` notices the same way).
final class WatchConsumer: Sendable {
    let mailbox: WatchMailbox

    init(_ mailbox: WatchMailbox) { self.mailbox = mailbox }

    deinit { mailbox.consumerLeft() }
}
