import SkynetTestSupport
import Testing

@testable import SkynetTimer

/// The model: every pending entry in a list, fired by sorting on (due, scheduling order).
private struct SortedModel {
    var pending: [(due: Int64, seq: Int, id: Int)] = []
    var now: Int64

    mutating func advance(to time: Int64) -> [Int] {
        now = max(now, time)
        let due = pending.filter { $0.due <= now }.sorted { ($0.due, $0.seq) < ($1.due, $1.seq) }
        pending.removeAll { $0.due <= now }
        return due.map(\.id)
    }
}

@Suite("Timer wheel core (manual clock, seeded)")
struct TimerWheelTests {
    @Test("fires in due order, ties in scheduling order, at the due millisecond and not before")
    func dueOrder() {
        var wheel = TimerWheel<String>(now: 1_000)
        _ = wheel.schedule("c", at: 1_300)
        _ = wheel.schedule("a", at: 1_005)
        _ = wheel.schedule("b", at: 1_005)
        _ = wheel.schedule("far", at: 1_000 + 86_400_000)
        #expect(wheel.advance(to: 1_004).isEmpty)
        #expect(wheel.advance(to: 1_005).map(\.payload) == ["a", "b"])
        #expect(wheel.advance(to: 1_299).isEmpty)
        let fired = wheel.advance(to: 5_000)
        #expect(fired.map(\.payload) == ["c"])
        #expect(fired.first?.due == 1_300)
        #expect(wheel.count == 1)
        #expect(wheel.advance(to: 1_000 + 86_400_000 - 1).isEmpty)
        #expect(wheel.advance(to: 1_000 + 86_400_000).map(\.payload) == ["far"])
        #expect(wheel.count == 0)
        #expect(wheel.nextWake() == nil)
    }

    @Test("an entry already due fires at the next advance, before later ones")
    func overdue() {
        var wheel = TimerWheel<Int>(now: 50_000)
        _ = wheel.schedule(2, at: 50_001)
        _ = wheel.schedule(1, at: 10)
        #expect(wheel.nextWake() == 50_000)
        #expect(wheel.advance(to: 50_000).map(\.payload) == [1])
        #expect(wheel.advance(to: 60_000).map(\.payload) == [2])
    }

    @Test("cancel removes in O(1) and refuses a stale handle")
    func cancel() {
        var wheel = TimerWheel<Int>(now: 0)
        let a = wheel.schedule(1, at: 100)
        let b = wheel.schedule(2, at: 100_000)
        #expect(wheel.cancel(a) == 1)
        #expect(wheel.cancel(a) == nil)
        #expect(wheel.due(of: b) == 100_000)
        #expect(wheel.advance(to: 200_000).map(\.payload) == [2])
        #expect(wheel.cancel(b) == nil)
        // The freed node is reused; the old handle still does not reach the new entry.
        let c = wheel.schedule(3, at: 300_000)
        #expect(wheel.cancel(a) == nil)
        #expect(wheel.cancel(c) == 3)
    }

    @Test("nextWake never passes the next due time")
    func nextWake() {
        var rng = SeededGenerator(seed: 99)
        var wheel = TimerWheel<Int>(now: 0)
        var dues: [Int64] = []
        for i in 0..<2_000 {
            let due = Int64.random(in: 1...(1 << 31), using: &rng)
            _ = wheel.schedule(i, at: due)
            dues.append(due)
        }
        dues.sort()
        var next = 0
        while let wake = wheel.nextWake() {
            #expect(wake <= dues[next], "woke at \(wake), after the due time \(dues[next])")
            next += wheel.advance(to: wake).count
        }
        #expect(next == dues.count)
    }

    @Test("matches the sorted-list model over random schedules, cancels and clock jumps", arguments: 0..<40)
    func model(seed: Int) {
        var rng = SeededGenerator(seed: UInt64(seed))
        let start = Int64.random(in: 0...(1 << 40), using: &rng)
        var wheel = TimerWheel<Int>(now: start)
        var model = SortedModel(now: start)
        var handles: [Int: TimerWheel<Int>.Handle] = [:]
        var id = 0
        for step in 0..<3_000 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                // Spans from already overdue to weeks ahead, weighted towards the near future.
                let span: Int64 = [10, 300, 20_000, 2_000_000, 1 << 31][Int.random(in: 0..<5, using: &rng)]
                let due = wheel.now + Int64.random(in: -5...span, using: &rng)
                handles[id] = wheel.schedule(id, at: due)
                model.pending.append((due, id, id))
                id += 1
            case 5..<7:
                guard let victim = handles.keys.randomElement(using: &rng) else { continue }
                let cancelled = wheel.cancel(handles.removeValue(forKey: victim)!)
                let inModel = model.pending.contains { $0.id == victim }
                #expect(cancelled == (inModel ? victim : nil), "seed \(seed) step \(step): cancel \(victim)")
                model.pending.removeAll { $0.id == victim }
            default:
                let jump: Int64 = [0, 1, 17, 255, 256, 5_000, 70_000, 3_000_000][Int.random(in: 0..<8, using: &rng)]
                let to = wheel.now + Int64.random(in: 0...jump, using: &rng)
                let fired = wheel.advance(to: to)
                let expected = model.advance(to: to)
                #expect(fired.map(\.payload) == expected, "seed \(seed) step \(step): advance to \(to)")
                if fired.map(\.payload) != expected { return }
                for entry in fired { handles[entry.payload] = nil }
            }
            #expect(wheel.count == model.pending.count, "seed \(seed) step \(step)")
        }
        let fired = wheel.advance(to: wheel.now + (1 << 32))
        #expect(fired.map(\.payload) == model.advance(to: model.now + (1 << 32)), "seed \(seed): final drain")
        #expect(wheel.count == 0)
    }

    @Test("a million pending entries: each costs its node, and they drain in due order")
    func million() {
        var rng = SeededGenerator(seed: 7)
        var wheel = TimerWheel<UInt32>(now: 0)
        for i in 0..<1_000_000 { _ = wheel.schedule(UInt32(i), at: Int64.random(in: 1...60_000, using: &rng)) }
        #expect(wheel.count == 1_000_000)
        var last: Int64 = 0, total = 0, outOfOrder = 0
        for t in stride(from: Int64(1_000), through: 60_000, by: 1_000) {
            for entry in wheel.advance(to: t) {
                if entry.due < last || entry.due > t { outOfOrder += 1 }
                last = entry.due
                total += 1
            }
        }
        #expect(total == 1_000_000)
        #expect(outOfOrder == 0)
    }
}
