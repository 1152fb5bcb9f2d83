import Testing
import SkynetCoordinator

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
}
