import Skynet
import SkynetRPC
import SkynetTestSupport
import Testing

@Suite("Instance pool core (manual clock, seeded picks)")
struct InstancePoolTests {
    static func descriptor(_ address: String, region: String = "us", host: String = "h1", registered: Bool = true) -> InstancePool.Descriptor {
        .init(address: address, region: region, host: host, registered: registered)
    }

    /// A pool whose instances are all connected.
    static func ready(_ descriptors: [InstancePool.Descriptor], configuration: InstancePool.Configuration = .init()) -> InstancePool {
        var pool = InstancePool(configuration: configuration, localRegion: "us", localHost: "h1")
        for case .connect(let address) in pool.update(descriptors) { pool.connected(address) }
        return pool
    }

    @Test("instances join connecting, are picked once ready, and leave with a disconnect")
    func membership() {
        var rng = SeededGenerator(seed: 1)
        var pool = InstancePool(localRegion: "us", localHost: "h1")
        #expect(pool.update([Self.descriptor("a:1"), Self.descriptor("b:1")]) == [.connect("a:1"), .connect("b:1")])
        #expect(pool.pick(now: .zero, using: &rng) == nil, "nothing is ready yet")
        pool.connected("b:1")
        #expect(pool.pick(now: .zero, using: &rng) == "b:1")
        #expect(pool.update([Self.descriptor("b:1")]) == [.disconnect("a:1")])
        #expect(pool.addresses == ["b:1"])
        _ = pool.update([Self.descriptor("b:1", registered: false)])
        #expect(pool.pick(now: .zero, using: &rng) == nil, "an unregistered instance gets no new calls")
        #expect(pool.connectionState(of: "b:1") == .ready, "but keeps its connection")
    }

    @Test("the caller's host first, then its region, then anywhere")
    func preference() {
        var rng = SeededGenerator(seed: 2)
        var pool = Self.ready([
            Self.descriptor("far:1", region: "eu", host: "x"), Self.descriptor("near:1", region: "us", host: "h2"),
            Self.descriptor("here:1", region: "us", host: "h1"),
        ])
        #expect((0..<50).allSatisfy { _ in pool.pick(now: .zero, using: &rng) == "here:1" })
        #expect(pool.pick(now: .zero, excluding: ["here:1"], using: &rng) == "near:1")
        #expect(pool.pick(now: .zero, excluding: ["here:1", "near:1"], using: &rng) == "far:1")
        _ = pool.callFailed("here:1", .connectionLost, now: .zero)
        #expect(pool.pick(now: .zero, using: &rng) == "near:1", "a lost connection takes an instance out at once")
    }

    @Test("power of two choices avoids the busiest instance")
    func powerOfTwo() {
        var rng = SeededGenerator(seed: 3)
        var pool = Self.ready(["a:1", "b:1", "c:1", "d:1"].map { Self.descriptor($0) })
        for _ in 0..<100 { pool.callStarted("c:1") }
        var counts: [String: Int] = [:]
        for _ in 0..<4_000 {
            let address = pool.pick(now: .zero, using: &rng)!
            counts[address, default: 0] += 1
            pool.callStarted(address)
            pool.callSucceeded(address)
        }
        #expect(counts["c:1"] == nil, "the instance with 100 calls in flight is never the lesser of two")
        #expect(counts.values.allSatisfy { $0 > 900 }, "the others share the load: \(counts)")
    }

    @Test("consecutive failures eject for a doubling while; a success resets; never everything")
    func ejection() {
        var rng = SeededGenerator(seed: 4)
        var pool = Self.ready(["a:1", "b:1", "c:1", "d:1"].map { Self.descriptor($0) })
        func fail(_ address: String, times: Int, at now: Duration) {
            for _ in 0..<times {
                pool.callStarted(address)
                _ = pool.callFailed(address, .callFailed, now: now)
            }
        }
        fail("a:1", times: 4, at: .zero)
        #expect(!pool.isEjected("a:1", now: .zero))
        fail("a:1", times: 1, at: .zero)
        #expect(pool.isEjected("a:1", now: .milliseconds(999)))
        #expect(!pool.isEjected("a:1", now: .seconds(1)))
        #expect(!(0..<100).contains { _ in pool.pick(now: .milliseconds(500), using: &rng) == "a:1" })
        fail("a:1", times: 5, at: .seconds(1))
        #expect(pool.isEjected("a:1", now: .milliseconds(2_999)), "the second ejection lasts 2 s")
        fail("b:1", times: 5, at: .seconds(1))
        fail("c:1", times: 5, at: .seconds(1))
        #expect(pool.isEjected("b:1", now: .seconds(1)))
        #expect(!pool.isEjected("c:1", now: .seconds(1)), "at most half of 4 instances are ejected at once")

        var single = Self.ready([Self.descriptor("only:1")])
        for _ in 0..<20 { _ = single.callFailed("only:1", .callFailed, now: .zero) }
        #expect(single.pick(now: .zero, using: &rng) == "only:1", "the last instance is never ejected")
    }

    @Test("reconnection backs off with jitter, doubling to the cap")
    func backoff() {
        var rng = SeededGenerator(seed: 5)
        var pool = InstancePool(configuration: .init(backoff: .milliseconds(100)...(.milliseconds(800))), localRegion: "us", localHost: "h1")
        _ = pool.update([Self.descriptor("a:1")])
        var now = Duration.zero
        var ceilings: [Duration] = []
        for _ in 0..<6 {
            let delay = pool.connectFailed("a:1", now: now, using: &rng)!
            ceilings.append(delay)
            let early = pool.backoffElapsed("a:1", now: now + delay / 2)
            #expect(early == [], "not before the delay")
            now += delay
            #expect(pool.backoffElapsed("a:1", now: now) == [.connect("a:1")])
        }
        let expected: [Duration] = [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(800), .milliseconds(800)]
        for (delay, ceiling) in zip(ceilings, expected) {
            #expect(delay >= ceiling / 2 && delay <= ceiling, "\(delay) not within [\(ceiling / 2), \(ceiling)]")
        }
        pool.connected("a:1")
        #expect(pool.connectionState(of: "a:1") == .ready)
    }
}

@Suite("Retry rule")
struct RetryRuleTests {
    @Test("only what cannot have run is always retried; idempotent calls also after a lost connection or timeout")
    func verdicts() {
        let notSent = RPCError.notSent("server is shutting down; the call did not run")
        let lost = RPCError(.unavailable, "connection to x closed")
        let timeout = RPCError(.deadlineExceeded, "no answer")
        for idempotent in [false, true] {
            #expect(RetryRule.judge(notSent, connectionActive: true, idempotent: idempotent) == (.lost, true))
            #expect(RetryRule.judge(lost, connectionActive: false, idempotent: idempotent) == (.lost, idempotent))
            #expect(RetryRule.judge(lost, connectionActive: true, idempotent: idempotent) == (.failed, idempotent))
            #expect(RetryRule.judge(timeout, connectionActive: true, idempotent: idempotent) == (.failed, idempotent))
            #expect(RetryRule.judge(RPCError(.internal, "boom"), connectionActive: true, idempotent: idempotent) == (.failed, false))
            #expect(RetryRule.judge(RPCError(.badRequest, "params[0]"), connectionActive: true, idempotent: idempotent) == (.answered, false))
        }
    }
}

@Suite("Instance pool: key affinity")
struct InstancePoolKeyTests {
    @Test("a key goes to its ring owner among available instances; a retry avoids it; all tried, any will do")
    func keys() {
        var rng = SeededGenerator(seed: 9)
        var pool = InstancePoolTests.ready(["a:1", "b:1", "c:1"].map { InstancePoolTests.descriptor($0) })
        let ring = HashRing(members: ["a:1", "b:1", "c:1"])
        for key in (0..<50).map({ "k\($0)" }) {
            #expect(pool.pick(now: .zero, key: key, avoiding: [], using: &rng) == ring.owner(of: key))
        }
        let owner = ring.owner(of: "k1")!
        let retry = pool.pick(now: .zero, key: "k1", avoiding: [owner], using: &rng)
        #expect(retry != nil && retry != owner)
        #expect(pool.pick(now: .zero, key: "k1", avoiding: ["a:1", "b:1", "c:1"], using: &rng) != nil)
        _ = pool.callFailed(owner, .connectionLost, now: .zero)
        let moved = pool.pick(now: .zero, key: "k1", avoiding: [], using: &rng)
        #expect(moved == HashRing(members: ["a:1", "b:1", "c:1"].filter { $0 != owner }).owner(of: "k1"), "the ring follows the available set")
    }
}

@Suite("Call attempts (manual clock)")
struct CallAttemptsTests {
    @Test("one deadline over every attempt; idempotent retrying calls give each attempt half the time left")
    func timeouts() {
        var idempotent = CallAttempts(now: .seconds(10), timeout: .seconds(4), idempotent: true, retries: true)
        #expect(idempotent.isFirst)
        #expect(idempotent.start(now: .seconds(10)) == .attempt(timeout: .seconds(2), retry: nil))
        #expect(!idempotent.isFirst)
        #expect(idempotent.start(now: .seconds(12)) == .attempt(timeout: .seconds(1), retry: 2))
        #expect(idempotent.start(now: .milliseconds(13_950)) == .attempt(timeout: .milliseconds(50), retry: 3), "at least 100 ms, never past the deadline")
        #expect(idempotent.start(now: .seconds(14)) == .deadlineExceeded)
        #expect(idempotent.attempts == 3, "an attempt that could not start does not count")

        var plain = CallAttempts(now: .zero, timeout: .seconds(4), idempotent: false, retries: true)
        #expect(plain.start(now: .seconds(1)) == .attempt(timeout: .seconds(3), retry: nil), "all the time left")
        var once = CallAttempts(now: .zero, timeout: .seconds(4), idempotent: true, retries: false)
        #expect(once.start(now: .zero) == .attempt(timeout: .seconds(4), retry: nil), "no retry on timeout: all the time")
    }

    @Test("a failure goes elsewhere only when retries are allowed, it is retryable and the deadline holds; tried instances are remembered")
    func retries() {
        var attempts = CallAttempts(now: .zero, timeout: .seconds(1), idempotent: false, retries: true)
        _ = attempts.start(now: .zero)
        #expect(attempts.mayRetry(retryable: true, now: .milliseconds(500)))
        #expect(!attempts.mayRetry(retryable: false, now: .milliseconds(500)))
        #expect(!attempts.mayRetry(retryable: true, now: .seconds(1)), "not at or past the deadline")
        attempts.retrying(after: "a:1")
        attempts.retrying(after: "b:1")
        #expect(attempts.tried == ["a:1", "b:1"])
        let once = CallAttempts(now: .zero, timeout: .seconds(1), idempotent: true, retries: false)
        #expect(!once.mayRetry(retryable: true, now: .zero), "sendOnce never retries")
    }
}
