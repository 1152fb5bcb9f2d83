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
        let first = state.requestArrived()
        #expect(first)
        state.callStarted()
        let second = state.requestArrived()
        #expect(!second, "the cap is reached: it waits")
        #expect(state.waiting == 1 && !state.mayDrain)
        let read = state.readRequested()
        #expect(!read, "nobody reads more while a request waits")
        #expect(state.callFinished() == .none, "the held read waits for the line to empty")
        #expect(state.mayDrain)
        let slice = state.drainTurn()
        #expect(slice == 1)
        state.callStarted()
        let ended = state.drainEnded()
        #expect(!ended.drainAgain && ended.action == .none, "the line is empty, but the drained call fills the cap")
        #expect(state.callFinished() == .read, "room and nobody waiting: the held read goes out")
        let wentAway = state.quiesce()
        #expect(wentAway)
        let refused = state.requestArrived()
        #expect(refused && state.waiting == 0, "draining: new requests go straight to their refusal, never wait")
    }

    @Test("a pipelined read starts a slice per turn; the rest start in later turns, a slice each")
    func turns() {
        var state = RPCServerConnectionState(maxInFlight: 100, maxPerTurn: 3)
        var started = 0
        for _ in 0..<10 where state.requestArrived() {
            state.callStarted()
            started += 1
        }
        #expect(started == 3 && state.waiting == 7)
        let due = state.turnEnded()
        #expect(due, "the read's turn is over; a drain turn is due")
        var turns: [Int] = []
        var again = true
        while again {
            let slice = state.drainTurn()
            for _ in 0..<slice { state.callStarted() }
            turns.append(slice)
            again = state.drainEnded().drainAgain
        }
        #expect(turns == [3, 3, 1], "7 waiting, three per turn")
        #expect(state.waiting == 0 && state.inFlight == 10)
        let read = state.readRequested()
        #expect(read)
        for _ in 0..<3 where state.requestArrived() { state.callStarted() }
        let fourth = state.requestArrived()
        #expect(!fourth, "a new read's turn has a slice of its own")
    }

    @Test("a drain turn starts no more than the in-flight cap leaves room for")
    func drainUnderCap() {
        var state = RPCServerConnectionState(maxInFlight: 4, maxPerTurn: 8)
        for _ in 0..<6 where state.requestArrived() { state.callStarted() }
        #expect(state.inFlight == 4 && state.waiting == 2)
        let due = state.turnEnded()
        #expect(!due, "no room: the drain waits for a call to finish")
        #expect(state.callFinished() == .none)
        #expect(state.mayDrain)
        let slice = state.drainTurn()
        #expect(slice == 1)
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
