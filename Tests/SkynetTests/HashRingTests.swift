import Skynet
import SkynetTestSupport
import Testing

@Suite("Hash ring (key affinity)")
struct HashRingTests {
    static let keys = (0..<30_000).map { "user-\($0)" }

    @Test("the same key has the same owner in every process, whatever the order members were given in")
    func deterministic() {
        var rng = SeededGenerator(seed: 7)
        let members = ["10.0.0.1:9000", "10.0.0.2:9000", "10.0.0.3:9000"]
        let a = HashRing(members: members)
        let b = HashRing(members: members.shuffled(using: &rng))
        #expect(a == b)
        #expect(Self.keys.allSatisfy { a.owner(of: $0) == b.owner(of: $0) })
        // The hash is a fixed function (FNV-1a + SplitMix64 finalizer), not Swift's seeded
        // Hasher; these values were computed independently (in Python) from that definition.
        #expect(HashRing.hash("") == 0xF52A_15E9_A9B5_E89B)
        #expect(HashRing.hash("skynet") == 0x425C_0F2A_8D42_5C85)
        #expect(HashRing(members: []).owner(of: "x") == nil)
    }

    @Test("keys spread evenly, and adding one of N members moves about 1/N of them, all to it")
    func minimalMovement() {
        let three = HashRing(members: ["a:1", "b:1", "c:1"])
        let shares = Dictionary(grouping: Self.keys, by: { three.owner(of: $0)! }).mapValues { Double($0.count) / Double(Self.keys.count) }
        #expect(shares.values.allSatisfy { (0.25...0.42).contains($0) }, "\(shares)")

        let four = HashRing(members: ["a:1", "b:1", "c:1", "d:1"])
        let moved = Self.keys.filter { three.owner(of: $0) != four.owner(of: $0) }
        let fraction = Double(moved.count) / Double(Self.keys.count)
        #expect((0.17...0.33).contains(fraction), "moved \(fraction)")
        #expect(moved.allSatisfy { four.owner(of: $0) == "d:1" }, "keys only move to the new member")

        let two = HashRing(members: ["a:1", "c:1"])
        #expect(Self.keys.allSatisfy { three.owner(of: $0) == "b:1" || two.owner(of: $0) == three.owner(of: $0) }, "removing b moves only b's keys")
    }

    @Test("moves(to:) names exactly the ranges whose keys change owner")
    func movesDescribeChanges() {
        let before = HashRing(members: ["a:1", "b:1", "c:1"], pointsPerMember: 40)
        let after = HashRing(members: ["a:1", "c:1", "d:1"], pointsPerMember: 40)
        let moves = before.moves(to: after)
        #expect(!moves.isEmpty)
        for key in Self.keys.prefix(5_000) {
            let h = HashRing.hash(key)
            let move = moves.first { $0.range.contains(h) }
            let (old, new) = (before.owner(of: key), after.owner(of: key))
            if old == new {
                #expect(move == nil, "\(key) did not move but lies in \(String(describing: move))")
            } else {
                #expect(move?.from == old && move?.to == new, "\(key): \(String(describing: old)) -> \(String(describing: new))")
            }
        }
        #expect(before.moves(to: before).isEmpty)
    }
}

@Suite("Retry budget")
struct RetryBudgetTests {
    @Test("retries are a fraction of recent requests, plus a small floor per second")
    func budget() {
        var budget = RetryBudget(ratio: 0.2, minRetriesPerSecond: 2, windowSeconds: 10)
        let t0 = Duration.seconds(100)
        let floor = [budget.tryWithdraw(now: t0), budget.tryWithdraw(now: t0), budget.tryWithdraw(now: t0)]
        #expect(floor == [true, true, false], "the floor allows 2 per second with no traffic")
        for _ in 0..<100 { budget.deposit(now: t0) }
        let allowed = (0..<50).filter { _ in budget.tryWithdraw(now: t0) }.count
        #expect(allowed == 20, "100 requests at 20% buy 20 retries")
        let nextSecond = budget.tryWithdraw(now: t0 + .seconds(1))
        #expect(nextSecond, "the floor refills each second")
    }

    @Test("deposits expire after the window")
    func window() {
        var budget = RetryBudget(ratio: 0.5, minRetriesPerSecond: 0, windowSeconds: 3)
        for _ in 0..<10 { budget.deposit(now: .seconds(10)) }
        #expect(budget.balance == 5)
        let within = budget.tryWithdraw(now: .seconds(12))
        #expect(within)
        #expect(budget.balance == 4)
        let after = budget.tryWithdraw(now: .seconds(13))
        #expect(!after, "deposits from second 10 are gone at second 13")
        #expect(budget.balance == 0)
    }
}
