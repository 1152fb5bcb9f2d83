import SkynetTestSupport
import Testing

@testable import SkynetTimer

@Suite("Delivery slots core")
struct DeliverySlotsTests {
    private func items(_ key: String, _ range: Range<Int>) -> [(key: String, item: Int)] { range.map { (key, $0) } }

    @Test("one destination: at most the limit run at once; the rest wait in order and take freed slots; every item runs once")
    func bounded() {
        var slots = DeliverySlots<String, Int>(perKey: 3, limit: 3)
        var started = slots.enqueue(items("a", 0..<5)).map(\.item)
        #expect(started == [0, 1, 2])
        #expect(slots.running == 3 && slots.queued == 2)
        started += slots.enqueue(items("a", 5..<6)).map(\.item)
        #expect(slots.running == 3 && slots.queued == 3)
        var order: [Int] = []
        while let next = slots.finished("a") { order.append(next.item) }
        #expect(order == [3, 4, 5])
        #expect(slots.running == 2)
        #expect(slots.finished("a") == nil && slots.finished("a") == nil)
        #expect(slots.running == 0 && slots.running("a") == 0)
        #expect(Set(started + order) == Set(0...5))
        #expect(slots.enqueue(items("a", 9..<10)).map(\.item) == [9])
    }

    @Test("destinations take slots in turn, each within its own bound")
    func turns() {
        var slots = DeliverySlots<String, Int>(perKey: 2, limit: 3)
        let started = slots.enqueue(items("a", 0..<5) + items("b", 10..<12))
        #expect(started.map(\.item) == [0, 10, 1])
        #expect(slots.running("a") == 2 && slots.running("b") == 1 && slots.queued == 4)
        // a's freed slot goes to b, whose turn it is.
        let next = slots.finished("a")
        #expect(next?.key == "b" && next?.item == 11)
        // b has nothing left waiting: the slot b frees goes to a.
        let after = slots.finished("b")
        #expect(after?.key == "a" && after?.item == 2)
    }

    @Test("a destination that never finishes holds only its own slots: the others' attempts all run")
    func deadDestination() {
        var slots = DeliverySlots<String, Int>(perKey: 2, limit: 4)
        var ran: [Int] = []
        var runningLive = 0
        for (key, item) in slots.enqueue(items("dead", 0..<100) + items("live", 100..<150)) where key == "live" {
            ran.append(item)
            runningLive += 1
        }
        // Each live attempt that ends frees a slot; never one of "dead"'s, which stay stuck.
        while runningLive > 0 {
            runningLive -= 1
            if let next = slots.finished("live") {
                #expect(next.key == "live")
                ran.append(next.item)
                runningLive += 1
            }
        }
        #expect(ran == Array(100..<150))
        #expect(slots.running("dead") == 2 && slots.queued == 98)
    }

    @Test("random arrivals and endings, over many seeds: bounds hold, order per destination holds, each item runs exactly once",
          arguments: 0..<50)
    func model(seed: Int) {
        var rng = SeededGenerator(seed: UInt64(seed) + 1)
        let keys = ["a", "b", "c", "d"]
        var slots = DeliverySlots<String, Int>(perKey: 1 + Int(rng.next() % 3), limit: 3 + Int(rng.next() % 4))
        var runningNow: [(key: String, item: Int)] = []
        var ranByKey: [String: [Int]] = [:]
        var next = 0
        func ran(_ started: [(key: String, item: Int)]) {
            for s in started { ranByKey[s.key, default: []].append(s.item) }
            runningNow += started
        }
        for _ in 0..<400 {
            if rng.next() % 2 == 0 || runningNow.isEmpty {
                let batch = (0..<Int(rng.next() % 4)).map { _ -> (key: String, item: Int) in
                    defer { next += 1 }
                    return (keys[Int(rng.next() % 4)], next)
                }
                ran(slots.enqueue(batch))
            } else {
                let ended = runningNow.remove(at: Int(rng.next() % UInt64(runningNow.count)))
                if let started = slots.finished(ended.key) { ran([started]) }
            }
            #expect(runningNow.count == slots.running, "seed \(seed)")
            #expect(slots.running <= slots.limit, "seed \(seed)")
            for key in keys {
                #expect(runningNow.filter { $0.key == key }.count <= slots.perKey, "seed \(seed)")
            }
        }
        while let ended = runningNow.popLast() {
            if let started = slots.finished(ended.key) { ran([started]) }
        }
        #expect(slots.queued == 0 && slots.running == 0, "seed \(seed)")
        let all = ranByKey.values.flatMap { $0 }
        #expect(all.count == next && Set(all).count == next, "seed \(seed)")
        for (key, order) in ranByKey { #expect(order == order.sorted(), "seed \(seed), destination \(key)") }
    }
}
