import Testing
@testable import SkynetRPC

@Suite("Server connection state")
struct RPCServerConnectionStateTests {
    @Test("an idle connection goes away on quiesce and closes when the linger passes")
    func idleQuiesce() {
        var state = RPCServerConnectionState()
        let r1 = state.quiesce()
        #expect(r1)
        #expect(!state.isAccepting)
        #expect(state.lingerElapsed() == .close)
    }

    @Test("a busy connection closes when its last call finishes, not before the linger")
    func busyQuiesce() {
        var state = RPCServerConnectionState()
        state.callStarted()
        state.callStarted()
        let r2 = state.quiesce()
        #expect(r2)
        #expect(!state.isAccepting)
        #expect(state.callFinished() == .none)
        #expect(state.lingerElapsed() == .none, "one call still runs")
        #expect(state.callFinished() == .close)
    }

    @Test("calls that finish inside the linger wait for it")
    func lingerLast() {
        var state = RPCServerConnectionState()
        state.callStarted()
        let r3 = state.quiesce()
        #expect(r3)
        #expect(state.callFinished() == .none, "requests may still be on the wire")
        #expect(state.lingerElapsed() == .close)
    }

    @Test("finishing calls while serving never closes, and quiesce twice is harmless")
    func serving() {
        var state = RPCServerConnectionState()
        state.callStarted()
        #expect(state.callFinished() == .none)
        #expect(state.isAccepting)
        let r4 = state.quiesce()
        #expect(r4)
        let r5 = state.quiesce()
        #expect(!r5)
    }

    @Test("reading stops at the in-flight cap and resumes below it")
    func inFlightCap() {
        var state = RPCServerConnectionState(maxInFlight: 2)
        let r6 = state.readRequested()
        #expect(r6)
        state.callStarted()
        state.callStarted()
        let r7 = state.readRequested()
        #expect(!r7, "two calls run: hold the read")
        #expect(state.isHoldingReads)
        #expect(state.callFinished() == .read, "one finished: the held read goes out")
        #expect(!state.isHoldingReads)
        #expect(state.callFinished() == .none, "nothing held, nothing to do")
    }

    @Test("requests wait their turn only while the cap is reached and the connection serves")
    func queueing() {
        var state = RPCServerConnectionState(maxInFlight: 1)
        #expect(!state.mustQueue && state.hasRoom)
        state.callStarted()
        #expect(state.mustQueue && !state.hasRoom)
        let wentAway = state.quiesce()
        #expect(wentAway)
        #expect(!state.mustQueue && !state.hasRoom, "draining: new requests are refused, not queued")
    }

    @Test("reading stops while the socket does not accept writes (a peer that does not read its answers)")
    func writability() {
        var state = RPCServerConnectionState(maxInFlight: 8)
        #expect(state.writabilityChanged(false) == .none)
        let r8 = state.readRequested()
        #expect(!r8)
        state.callStarted()
        #expect(state.callFinished() == .none, "still not writable")
        #expect(state.writabilityChanged(true) == .read)
        let r9 = state.readRequested()
        #expect(r9)
    }

    @Test("a closed connection never reads")
    func closed() {
        var state = RPCServerConnectionState(maxInFlight: 1)
        state.callStarted()
        let r10 = state.readRequested()
        #expect(!r10)
        state.closed()
        let r11 = state.readRequested()
        #expect(!r11)
        #expect(state.writabilityChanged(true) == .none)
    }
}
