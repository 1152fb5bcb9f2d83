import Testing
@testable import SkynetRPC

@Suite("Server connection state")
struct RPCServerConnectionStateTests {
    @Test("an idle connection closes at once on quiesce")
    func idleQuiesce() {
        var state = RPCServerConnectionState()
        #expect(state.quiesce() == .close)
        #expect(!state.isAccepting)
    }

    @Test("a busy connection closes when its last call finishes")
    func busyQuiesce() {
        var state = RPCServerConnectionState()
        state.callStarted()
        state.callStarted()
        #expect(state.quiesce() == .none)
        #expect(!state.isAccepting)
        #expect(state.callFinished() == .none)
        #expect(state.callFinished() == .close)
    }

    @Test("finishing calls while serving never closes, and quiesce twice is harmless")
    func serving() {
        var state = RPCServerConnectionState()
        state.callStarted()
        #expect(state.callFinished() == .none)
        #expect(state.isAccepting)
        #expect(state.quiesce() == .close)
        #expect(state.quiesce() == .none)
    }
}
