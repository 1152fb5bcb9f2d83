import Testing
@testable import SkynetRPC

@Suite("Client pending calls")
struct RPCPendingCallsTests {
    typealias Calls = RPCPendingCalls<String, String>

    @Test("uniform timeouts arm the timer once; an earlier deadline re-arms it")
    func arming() throws {
        var calls = Calls()
        #expect(try calls.add(1, "a", deadline: 100) == 100)
        #expect(try calls.add(2, "b", deadline: 110) == nil)
        #expect(try calls.add(3, "c", deadline: nil) == nil)
        #expect(try calls.add(4, "d", deadline: 50) == 50)
        #expect(calls.armedDeadline == 50)
    }

    @Test("the timer expires only calls past their deadline and re-arms for the earliest left")
    func expiry() throws {
        var calls = Calls()
        _ = try calls.add(1, "a", deadline: 100)
        _ = try calls.add(2, "b", deadline: 200)
        _ = try calls.add(3, "c", deadline: nil)
        _ = calls.remove(1)   // answered before its deadline
        let first = calls.timerFired(now: 100)
        #expect(first.expired.isEmpty)
        #expect(first.rearm == 200)
        let second = calls.timerFired(now: 250)
        #expect(second.expired == ["b"])
        #expect(second.rearm == nil)
        #expect(calls.remove(3).call == "c")
        #expect(calls.isIdle)
    }

    @Test("drain waiters go when the last call does, or at once when nothing is pending")
    func drain() throws {
        var calls = Calls()
        #expect(calls.whenIdle("now") == "now")
        _ = try calls.add(1, "a", deadline: nil)
        _ = try calls.add(2, "b", deadline: 10)
        #expect(calls.whenIdle("w1") == nil)
        #expect(calls.remove(1).idle.isEmpty)
        #expect(calls.remove(99).idle.isEmpty)      // unknown msgid: nothing happens
        #expect(calls.timerFired(now: 10).idle == ["w1"])
    }

    @Test("closing fails every call, keeps the first reason, and refuses later calls")
    func closing() throws {
        var calls = Calls()
        _ = try calls.add(1, "a", deadline: 100)
        _ = try calls.add(2, "b", deadline: nil)
        #expect(calls.whenIdle("w") == nil)
        let first = RPCError(.unavailable, "connection closed")
        let (failed, idle) = calls.close(first)
        #expect(Set(failed) == ["a", "b"])
        #expect(idle == ["w"])
        #expect(calls.armedDeadline == nil)
        _ = calls.close(RPCError(.unavailable, "later reason"))
        #expect(calls.closedError == first)
        #expect(throws: first) { try calls.add(3, "c", deadline: nil) }
    }
}
