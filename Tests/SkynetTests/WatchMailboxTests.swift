import Synchronization
import Testing
@testable import Skynet

@Suite("Watch mailbox (one watch's queue between the client and its consumer)")
struct WatchMailboxTests {
    private struct Boom: Error, Equatable {}

    private func update(_ rev: Int64) -> WatchUpdate { WatchUpdate(revision: rev, events: []) }

    /// Starts a consumer taking one update and returns once it is suspended waiting.
    private func waitingConsumer(_ mailbox: WatchMailbox) async throws -> Task<WatchUpdate?, any Error> {
        let task = Task { try await mailbox.next() }
        for _ in 0..<100_000 where !mailbox.hasWaiter { await Task.yield() }
        try #require(mailbox.hasWaiter, "the consumer never waited")
        return task
    }

    @Test("updates come out in order, whether buffered or handed to a consumer that waits")
    func order() async throws {
        let mailbox = WatchMailbox()
        mailbox.yield(update(1))
        mailbox.yield(update(2))
        #expect(try await mailbox.next()?.revision == 1)
        #expect(try await mailbox.next()?.revision == 2)
        let waiting = try await waitingConsumer(mailbox)
        mailbox.yield(update(3))
        #expect(try await waiting.value?.revision == 3)
        #expect(!mailbox.hasWaiter)
    }

    @Test("an end with an error comes after the buffered updates, once; then the watch is over and takes nothing more")
    func finishWithError() async throws {
        let mailbox = WatchMailbox()
        mailbox.yield(update(1))
        mailbox.finish(throwing: Boom())
        mailbox.yield(update(2))
        #expect(try await mailbox.next()?.revision == 1)
        await #expect(throws: Boom.self) { try await mailbox.next() }
        #expect(try await mailbox.next() == nil)
    }

    @Test("an end wakes a consumer that waits: with nil, or with the error")
    func finishWakesTheConsumer() async throws {
        let plain = WatchMailbox()
        let waiting = try await waitingConsumer(plain)
        plain.finish()
        #expect(try await waiting.value == nil)

        let failing = WatchMailbox()
        let waitingForError = try await waitingConsumer(failing)
        failing.finish(throwing: Boom())
        await #expect(throws: Boom.self) { try await waitingForError.value }
        #expect(try await failing.next() == nil)
    }

    @Test("a consumer cancelled while it waits gets nil; the client hears of it once; later updates are dropped")
    func cancelledConsumer() async throws {
        let mailbox = WatchMailbox()
        let left = Mutex(0)
        mailbox.onConsumerLeft { left.withLock { $0 += 1 } }
        let waiting = try await waitingConsumer(mailbox)
        waiting.cancel()
        #expect(try await waiting.value == nil)
        #expect(left.withLock { $0 } == 1)
        mailbox.consumerLeft()
        mailbox.yield(update(1))
        #expect(left.withLock { $0 } == 1)
        #expect(try await mailbox.next() == nil)
    }

    @Test("dropping the last holder of the watch is the consumer leaving; a callback set after that runs at once")
    func droppedConsumer() async throws {
        let mailbox = WatchMailbox()
        let left = Mutex(0)
        mailbox.onConsumerLeft { left.withLock { $0 += 1 } }
        do {
            let consumer = WatchConsumer(mailbox)
            #expect(consumer.mailbox === mailbox)
        }
        #expect(left.withLock { $0 } == 1)
        mailbox.onConsumerLeft { left.withLock { $0 += 10 } }
        #expect(left.withLock { $0 } == 11)
    }

    @Test("a watch the client ended does not call back when its consumer then leaves")
    func finishedThenLeft() async throws {
        let mailbox = WatchMailbox()
        let left = Mutex(0)
        mailbox.onConsumerLeft { left.withLock { $0 += 1 } }
        mailbox.finish()
        mailbox.consumerLeft()
        #expect(left.withLock { $0 } == 0)
        #expect(try await mailbox.next() == nil)
    }
}
