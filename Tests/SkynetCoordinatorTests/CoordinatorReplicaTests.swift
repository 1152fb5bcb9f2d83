import SkynetTree
import Testing
@testable import SkynetCoordinator

@Suite("Coordinator replica (state machine + watch hub + leases)")
struct CoordinatorReplicaTests {
    private func p(_ s: String) -> TreePath { try! TreePath(s) }

    @Test("an applied entry reaches watchers and leases; a session's expiry deletes its files for watchers too")
    func applyFeedsHubAndLeases() throws {
        var replica = CoordinatorReplica(machine: CoordinatorStateMachine(), history: [], watchLimits: .init(), now: .zero)
        let (watch, catchUp) = try replica.hub.watch(try TreeGlob("/eph/**"), fromRev: 0)
        #expect(catchUp.isEmpty)
        let (opened, none) = replica.apply(.openSession(ttlMilliseconds: 1_000), at: 1, now: .seconds(5))
        #expect(opened == .success(.sessionOpened(id: 1, ttlMilliseconds: 1_000)) && none.isEmpty)
        #expect(replica.leases.expired(now: .milliseconds(5_999)) == [], "the lease starts at the apply's time")
        let (_, put) = replica.apply(.txn(compares: [], success: [.set(path: p("/eph/a"), value: [1], ifRev: -1, session: 1)], failure: []), at: 2, now: .seconds(5))
        #expect(put == [.deliver(watch, [TreeEvent(rev: 1, path: p("/eph/a"), kind: .put, value: [1])])])
        let (_, gone) = replica.apply(.expireSession(1), at: 3, now: .seconds(7))
        #expect(gone == [.deliver(watch, [TreeEvent(rev: 2, path: p("/eph/a"), kind: .delete, value: [])])])
        #expect(replica.leases.count == 0)
    }

    @Test("restarting from a state grants every session a full TTL; compaction follows the watch history")
    func restartAndCompaction() throws {
        var machine = CoordinatorStateMachine()
        _ = machine.apply(.openSession(ttlMilliseconds: 500), at: 1)
        var replica = CoordinatorReplica(machine: machine, history: [], watchLimits: .init(maxHistoryEvents: 10), now: .seconds(100))
        #expect(replica.leases.expired(now: .milliseconds(100_499)) == [])
        #expect(replica.leases.expired(now: .milliseconds(100_500)) == [1])
        for i in 0..<30 {
            _ = replica.apply(.txn(compares: [], success: [.set(path: p("/k"), value: [UInt8(i)], ifRev: -1, session: nil)], failure: []), at: UInt64(i + 2), now: .seconds(100))
            replica.compactIfDue()
        }
        #expect(replica.machine.tree.oldestRevision == replica.hub.historyStart, "the tree keeps exactly what the history reaches")
        #expect(throws: TreeError.self) { try replica.machine.tree.get(p("/k"), atRev: replica.hub.historyStart - 1) }
    }
}
