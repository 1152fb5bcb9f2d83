import NIOCore

/// The connections of one event loop whose requests wait for a turn, served a slice each
/// per round, with the loop's I/O between rounds.
///
/// Why a ring and a timer: an event loop runs every task queued (including those queued
/// while it runs tasks) before it reads any socket again, so a connection that re-queued
/// its own next slice at once would be served to the end of its backlog before another
/// connection's request is even read. One round per loop serves each waiting connection
/// one slice, then schedules the next round a moment later, which lets the loop read and
/// answer the others first. Only connections with a backlog (a peer pipelining more than
/// a slice) pay that pause.
final class RPCTurnRing: Sendable {
    private struct State {
        var waiting = CircularBuffer<RPCServerConnectionHandler>()
        var roundScheduled = false
    }

    /// The pause between rounds: long enough that the loop polls its sockets first.
    static let pause = TimeAmount.microseconds(20)

    private let loop: any EventLoop
    private let state: NIOLoopBoundBox<State>

    init(loop: any EventLoop) {
        self.loop = loop
        state = NIOLoopBoundBox(State(), eventLoop: loop)
    }

    /// Puts `handler` at the back of the ring; it must not already be in it.
    func enqueue(_ handler: RPCServerConnectionHandler) {
        state.value.waiting.append(handler)
        scheduleRound()
    }

    private func scheduleRound() {
        guard !state.value.roundScheduled else { return }
        state.value.roundScheduled = true
        loop.scheduleTask(in: Self.pause) { [self] in round() }
    }

    private func round() {
        state.value.roundScheduled = false
        for _ in 0..<state.value.waiting.count {
            let handler = state.value.waiting.removeFirst()
            if handler.takeTurn() { state.value.waiting.append(handler) }
        }
        if !state.value.waiting.isEmpty { scheduleRound() }
    }
}
