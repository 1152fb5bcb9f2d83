import Testing
@testable import SkynetCoordinator

@Suite("Group commit: when the flush waits for more appends")
struct GroupCommitTests {
    @Test("a lone writer never waits; nor does a first batch, nor an empty one")
    func loneWriter() {
        var commit = GroupCommit()
        let r1 = commit.shouldLinger(pending: 1)
        #expect(!r1, "nothing written yet")
        commit.took(1)
        let r2 = commit.shouldLinger(pending: 1)
        #expect(!r2)
        commit.took(GroupCommit.lingerFrom - 1)
        let r3 = commit.shouldLinger(pending: 1)
        #expect(!r3, "the last batch was below lingerFrom")
        commit.took(GroupCommit.lingerFrom)
        let r4 = commit.shouldLinger(pending: 0)
        #expect(!r4, "nothing pending: nothing to wait for")
        #expect(commit.wakeAt == nil)
    }

    @Test("after a large batch it waits for four times as many, and an append reaching that wakes it once")
    func waitsForGrowth() {
        var commit = GroupCommit()
        commit.took(20)
        let r5 = commit.shouldLinger(pending: 5)
        #expect(r5)
        #expect(commit.wakeAt == 80)
        let r6 = commit.appended(pending: 79)
        #expect(!r6)
        let r7 = commit.appended(pending: 80)
        #expect(r7)
        let r8 = commit.appended(pending: 81)
        #expect(!r8, "woken once")
        let r9 = commit.timedOut()
        #expect(r9, "a timeout after the wake-up finds the signal to take")
        let r10 = commit.shouldLinger(pending: 80)
        #expect(!r10, "already four times the last batch")
    }

    @Test("a wait that times out unsignalled leaves nothing behind")
    func timeout() {
        var commit = GroupCommit()
        commit.took(10)
        let r11 = commit.shouldLinger(pending: 3)
        #expect(r11)
        let r12 = commit.timedOut()
        #expect(!r12)
        #expect(commit.wakeAt == nil)
        let r13 = commit.appended(pending: 1_000)
        #expect(!r13, "no wait in progress: no signal")
    }

    @Test("a log that went idle forgets its last batch: the first write after a burst does not wait")
    func idle() {
        var commit = GroupCommit()
        commit.took(200)
        commit.wentIdle()
        let r14 = commit.shouldLinger(pending: 1)
        #expect(!r14)
        #expect(commit.lastBatch == 0)
    }
}
