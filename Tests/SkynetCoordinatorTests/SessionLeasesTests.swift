import SkynetCoordinator
import SkynetTestSupport
import Testing

@Suite("Session leases (manual clock)")
struct SessionLeasesTests {
    @Test("a lease expires once its TTL passes without a renewal, and is proposed once")
    func expiry() {
        var leases = SessionLeases()
        leases.grant(1, ttl: .seconds(5), now: .zero)
        leases.grant(2, ttl: .seconds(2), now: .zero)
        #expect(leases.expired(now: .seconds(1)) == [])
        #expect(leases.nextDeadline == .seconds(2))
        #expect(leases.renew(1, now: .seconds(4)) == .seconds(5))   // now due at 9 s
        #expect(leases.expired(now: .seconds(2)) == [2])
        #expect(leases.expired(now: .seconds(3)) == [], "an expiry in flight is not proposed twice")
        #expect(leases.renew(2, now: .seconds(3)) == nil, "a keepalive after the deadline is too late")
        #expect(!leases.isLive(2))
        #expect(leases.expired(now: .seconds(8)) == [])
        #expect(leases.expired(now: .seconds(9)) == [1])
    }

    @Test("the expiry timer: a check says when to fire next; a grant moves it up only when earlier; a refused expiry retries later, not at once")
    func timer() {
        var leases = SessionLeases()
        let none = leases.nextCheck(now: .zero)
        #expect(none == nil, "nothing queued, no timer")
        leases.grant(1, ttl: .seconds(5), now: .zero)
        let first = leases.earlierDeadline()
        leases.grant(2, ttl: .seconds(7), now: .zero)
        let later = leases.earlierDeadline()
        leases.grant(3, ttl: .seconds(2), now: .zero)
        let sooner = leases.earlierDeadline()
        #expect(first == .seconds(5) && later == nil && sooner == .seconds(2))
        #expect(leases.expired(now: .seconds(2)) == [3])
        let afterCheck = leases.nextCheck(now: .seconds(2))
        #expect(afterCheck == .seconds(5))
        #expect(leases.expired(now: .seconds(5)) == [1])
        leases.expiryFailed(1)   // the log refused it: due again now
        let retry = leases.nextCheck(now: .seconds(5))
        #expect(retry == .seconds(5) + SessionLeases.retryAfter)
    }

    @Test("a failed expiry proposal is retried; revoke forgets the session")
    func retryAndRevoke() {
        var leases = SessionLeases()
        leases.grant(7, ttl: .milliseconds(100), now: .zero)
        #expect(leases.expired(now: .milliseconds(100)) == [7])
        leases.expiryFailed(7)
        #expect(leases.expired(now: .milliseconds(150)) == [7])
        leases.revoke(7)
        #expect(leases.count == 0)
        #expect(leases.renew(7, now: .milliseconds(160)) == nil)
        #expect(leases.nextDeadline == nil)
    }

    @Test("the deadline heap agrees with a scan of every lease over 200 seeded random runs, and holds one entry per lease")
    func heapAgainstScan() {
        for seed in UInt64(1)...200 {
            var random = SeededGenerator(seed: seed)
            var leases = SessionLeases()
            var model = ScanModel()
            var now = Duration.zero
            for step in 0..<300 {
                let session = UInt64.random(in: 1...12, using: &random)
                switch Int.random(in: 0..<10, using: &random) {
                case 0, 1:
                    let ttl = Duration.milliseconds(Int.random(in: 100...2_000, using: &random))
                    leases.grant(session, ttl: ttl, now: now)
                    model.grant(session, ttl: ttl, now: now)
                case 2, 3, 4:
                    #expect(leases.renew(session, now: now) == model.renew(session, now: now), "seed \(seed) step \(step)")
                case 5:
                    leases.revoke(session)
                    model.revoke(session)
                case 6:
                    leases.expiryFailed(session)
                    model.expiryFailed(session)
                default:
                    now += .milliseconds(Int.random(in: 0...400, using: &random))
                    #expect(leases.expired(now: now) == model.expired(now: now), "seed \(seed) step \(step)")
                }
                #expect(leases.count == model.leases.count)
                #expect((1...12).allSatisfy { leases.isLive($0) == model.isLive($0) }, "seed \(seed) step \(step)")
            }
            // Once every old deadline has come up, the heap holds exactly the live leases.
            now += .seconds(10)
            #expect(leases.expired(now: now) == model.expired(now: now))
            for session in model.leases.keys { leases.expiryFailed(session); model.expiryFailed(session) }
            #expect(leases.queued == model.leases.values.filter { !$0.expiring }.count, "seed \(seed)")
        }
    }

    /// The plain definition: every lease scanned at every look.
    private struct ScanModel {
        var leases: [UInt64: (ttl: Duration, deadline: Duration, expiring: Bool)] = [:]
        mutating func grant(_ s: UInt64, ttl: Duration, now: Duration) { leases[s] = (ttl, now + ttl, false) }
        mutating func renew(_ s: UInt64, now: Duration) -> Duration? {
            guard let lease = leases[s], !lease.expiring else { return nil }
            leases[s]!.deadline = max(lease.deadline, now + lease.ttl)
            return lease.ttl
        }
        mutating func revoke(_ s: UInt64) { leases[s] = nil }
        mutating func expiryFailed(_ s: UInt64) { leases[s]?.expiring = false }
        func isLive(_ s: UInt64) -> Bool { leases[s].map { !$0.expiring } ?? false }
        mutating func expired(now: Duration) -> [UInt64] {
            let due = leases.filter { !$0.value.expiring && $0.value.deadline <= now }.keys.sorted()
            for s in due { leases[s]!.expiring = true }
            return due
        }
    }
}
