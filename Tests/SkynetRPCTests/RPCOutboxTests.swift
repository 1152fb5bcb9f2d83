import MessagePack
import NIOCore
import NIOPosix
import Testing
@testable import SkynetRPC

@Suite("Client outbox")
struct RPCOutboxTests {
    // A real loop: the calls are made on many threads at once.
    private static let loop = MultiThreadedEventLoopGroup.singleton.any()

    private static func call(_ msgid: UInt32) -> RPCOutboundCall {
        RPCOutboundCall(msgid: msgid, bytes: ByteBuffer(), promise: loop.makePromise(), deadline: nil)
    }

    @Test("only the call that finds the outbox empty schedules a take; a take empties it, oldest first")
    func scheduling() {
        let outbox = RPCOutbox()
        #expect(outbox.add(Self.call(1)))
        #expect(!outbox.add(Self.call(2)))
        #expect(!outbox.add(Self.call(3)))
        let taken = outbox.take()
        #expect(taken.map(\.msgid) == [1, 2, 3])
        #expect(outbox.take().isEmpty)
        #expect(outbox.add(Self.call(4)))
        let again = outbox.take()
        #expect(again.map(\.msgid) == [4])
        for call in taken + again { call.promise.succeed(.nil) }
    }

    @Test("callers on many tasks racing the takes: each call is taken once, each caller's calls in its order")
    func concurrent() async {
        let outbox = RPCOutbox()
        let producers = 8, perProducer = 2_000
        // One take per call that found the outbox empty, as the event loop would run them.
        let (scheduled, schedule) = AsyncStream.makeStream(of: Void.self)
        let taker = Task {
            var taken: [RPCOutboundCall] = []
            for await _ in scheduled { taken += outbox.take() }
            return taken
        }
        await withTaskGroup(of: Void.self) { group in
            for p in 0..<producers {
                group.addTask {
                    for i in 0..<perProducer where outbox.add(Self.call(UInt32(p * perProducer + i))) {
                        schedule.yield()
                    }
                }
            }
        }
        schedule.finish()
        let taken = await taker.value
        #expect(outbox.take().isEmpty)
        let ids = taken.map { Int($0.msgid) }
        #expect(ids.count == producers * perProducer)
        #expect(Set(ids).count == producers * perProducer)
        for p in 0..<producers {
            let own = ids.filter { $0 / perProducer == p }
            #expect(own == own.sorted(), "producer \(p)'s calls left out of order")
        }
        for call in taken { call.promise.succeed(.nil) }
    }
}
