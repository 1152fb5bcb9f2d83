import Foundation
import Skynet
import SkynetRPC
import SkynetTestSupport
import SkynetTree
import Synchronization
import Testing

@testable import SkynetTimer

/// The timer service's group commit against a real coordinator: detached writes, their
/// fences, the backlog and the wait for it to drain.
@Suite("Tree write batcher (live coordinator)")
struct TreeWriteBatcherTests {
    /// A coordinator over a fresh store, with a client that waits long: with every suite
    /// starting alongside on two cores, the first calls can take longer than the default 5 s.
    private static func withPatientCoordinator(_ body: (CoordinatorClient) async throws -> Void) async throws {
        try await withCoordinator { server, _ in
            let coordinator = CoordinatorClient(
                configuration: .init(addresses: ["127.0.0.1:\(server.localAddress!.port!)"], callTimeout: .seconds(60), connectTimeout: .seconds(60)),
                logger: quietLogger())
            let result: Result<Void, any Error>
            do { result = .success(try await body(coordinator)) } catch { result = .failure(error) }
            await coordinator.close()
            try result.get()
        }
    }

    private static func fence(_ path: String, _ holder: String) throws -> TxnCompare {
        TxnCompare(try TreePath(path), .value(Array(holder.utf8)))
    }

    @Test("detached writes under a fence that holds all apply, in shared transactions; idle returns once every one is answered")
    func detached() async throws {
        try await Self.withPatientCoordinator { coordinator in
            _ = try await coordinator.set("/batch/owner", "me")
            let batcher = TreeWriteBatcher(coordinator: coordinator)
            let fence = try Self.fence("/batch/owner", "me")
            let outcomes = Mutex<[String: (any Error)?]>([:])
            let count = 600
            for i in 0..<count {
                let path = "/batch/files/k\(i)"
                batcher.submit(.set(path: try TreePath(path), value: Array("v\(i)".utf8), ifRev: -1, session: nil), fence: fence) { error in
                    outcomes.withLock { $0[path] = .some(error) }
                }
            }
            await batcher.idle(within: .seconds(60))
            #expect(batcher.backlog == 0)
            let answered = outcomes.withLock { $0 }
            #expect(answered.count == count)
            #expect(answered.values.allSatisfy { $0 == nil }, "\(answered.values.compactMap { $0 }.prefix(3))")
            #expect(try await coordinator.getdir("/batch/files").count == count)
            // Fewer revisions than writes: they went together.
            let revision = try await coordinator.get("/batch/files/k\(count - 1)")?.stat.modRev ?? 0
            #expect(revision < Int64(count))
        }
    }

    @Test("a broken fence fails only its own writes, with FenceBroken; the others apply")
    func brokenFence() async throws {
        try await Self.withPatientCoordinator { coordinator in
            _ = try await coordinator.set("/fences/a", "me")
            _ = try await coordinator.set("/fences/b", "someone else")
            let batcher = TreeWriteBatcher(coordinator: coordinator)
            let (held, lost) = (try Self.fence("/fences/a", "me"), try Self.fence("/fences/b", "me"))
            let outcomes = Mutex<[Int: (any Error)?]>([:])
            for i in 0..<40 {
                batcher.submit(.set(path: try TreePath("/fences/files/k\(i)"), value: [1], ifRev: -1, session: nil), fence: i % 2 == 0 ? held : lost) { error in
                    outcomes.withLock { $0[i] = .some(error) }
                }
            }
            await batcher.idle(within: .seconds(60))
            let answered = outcomes.withLock { $0 }
            #expect(answered.count == 40)
            for (i, outcome) in answered {
                if i % 2 == 0 { #expect(outcome == nil, "write \(i)") } else { #expect(outcome is FenceBroken, "write \(i): \(String(describing: outcome))") }
            }
            #expect(try await coordinator.getdir("/fences/files").sorted() == (0..<40).filter { $0 % 2 == 0 }.map { "k\($0)" }.sorted())
        }
    }

    @Test("idle(within:) gives up after its limit while a write still waits (the coordinator gone)")
    func idleIsBounded() async throws {
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let coordinator = CoordinatorClient(
            configuration: .init(addresses: ["127.0.0.1:\(refusing.port)"], callTimeout: .seconds(60), backoff: .milliseconds(10)...(.milliseconds(50))),
            logger: quietLogger())
        let batcher = TreeWriteBatcher(coordinator: coordinator)
        let answered = Mutex(false)
        batcher.submit(.set(path: try TreePath("/x"), value: [1], ifRev: -1, session: nil), fence: try Self.fence("/owner", "me")) { _ in
            answered.withLock { $0 = true }
        }
        await batcher.idle(within: .milliseconds(200))
        #expect(batcher.backlog == 1)
        #expect(answered.withLock { $0 } == false)
        await coordinator.close()
    }
}
