import Testing
@testable import SkynetCoordinator

@Suite("Snapshot schedule")
struct SnapshotScheduleTests {
    @Test("the first snapshot comes after the minimum entries")
    func first() {
        let schedule = SnapshotSchedule(minimumEntries: 100, lastIndex: 0, lastSize: 0)
        #expect(!schedule.isDue(appliedIndex: 99, loggedBytes: { 1 << 30 }))
        #expect(schedule.isDue(appliedIndex: 100, loggedBytes: { 0 }))
    }

    @Test("a large state waits until the log has grown by twice the last snapshot's size")
    func waitsForBytes() {
        var schedule = SnapshotSchedule(minimumEntries: 100, lastIndex: 0, lastSize: 0)
        let started = schedule.started(index: 100, loggedBytes: 5_000)
        schedule.finished(started, size: 1_000_000)
        #expect(!schedule.isDue(appliedIndex: 199, loggedBytes: { 10_000_000 }), "fewer entries than the minimum")
        #expect(!schedule.isDue(appliedIndex: 5_000, loggedBytes: { 5_000 + 1_999_999 }))
        #expect(schedule.isDue(appliedIndex: 5_000, loggedBytes: { 5_000 + 2_000_000 }))
    }

    @Test("the log's byte count is read only once enough entries were applied")
    func readsBytesLazily() {
        let schedule = SnapshotSchedule(minimumEntries: 100, lastIndex: 50, lastSize: 10)
        #expect(!schedule.isDue(appliedIndex: 149, loggedBytes: { Issue.record("read the byte count"); return 0 }))
    }

    @Test("one snapshot at a time; a failed one may be retried at once")
    func oneAtATime() {
        var schedule = SnapshotSchedule(minimumEntries: 10, lastIndex: 0, lastSize: 0)
        _ = schedule.started(index: 10, loggedBytes: 100)
        #expect(!schedule.isDue(appliedIndex: 1_000, loggedBytes: { 1 << 20 }))
        schedule.failed()
        #expect(schedule.isDue(appliedIndex: 1_000, loggedBytes: { 1 << 20 }))
        #expect(schedule.lastIndex == 0)
    }

    @Test("recovery starts from the snapshot it loaded: its index and size")
    func recovered() {
        let schedule = SnapshotSchedule(minimumEntries: 10, lastIndex: 500, lastSize: 4_096)
        #expect(!schedule.isDue(appliedIndex: 509, loggedBytes: { 1 << 20 }))
        #expect(!schedule.isDue(appliedIndex: 600, loggedBytes: { 8_191 }))
        #expect(schedule.isDue(appliedIndex: 600, loggedBytes: { 8_192 }))
    }
}
