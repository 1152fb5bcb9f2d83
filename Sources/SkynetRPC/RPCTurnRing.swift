import NIOCore

/// The connections of one event loop whose requests wait for a turn, served a slice each
/// per round, with the loop's I/O at least every `budget`.
///
/// Why a ring and a timer: an event loop runs every task queued (including those queued
/// while it runs tasks) before it reads any socket again, so a connection that re-queued
/// its own next slice at once would be served to the end of its backlog before another
/// connection's request is even read. One round per loop serves each waiting connection
/// one slice; rounds follow each other at once while they have taken less than `budget`
/// since the loop last polled its sockets, then the next round is scheduled a moment
/// (`pause`) after the jobs the round queued on the loop, which lets the loop read and
/// answer the others first. So a backlog
/// costs the other connections of its loop at most about `budget` of waiting, and costs
/// itself at most `pause` per `budget` of work.
final class RPCTurnRing: Sendable {
    private struct State {
        var waiting = CircularBuffer<RPCServerConnectionHandler>()
        var roundScheduled = false
        /// When the rounds since the loop last polled its sockets began.
        var burstStart: NIODeadline?
    }

    /// The longest run of rounds between two polls of the loop's sockets.
    static let budget = TimeAmount.microseconds(200)
    /// The pause after such a run: long enough that the loop polls its sockets first.
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
        guard !state.value.roundScheduled else { return }
        state.value.roundScheduled = true
        state.value.burstStart = nil
        loop.scheduleTask(in: Self.pause) { [self] in round() }
    }

    private func round() {
        state.value.roundScheduled = false
        let start = state.value.burstStart ?? .now()
        for _ in 0..<state.value.waiting.count {
            let handler = state.value.waiting.removeFirst()
            if handler.takeTurn() { state.value.waiting.append(handler) }
        }
        guard !state.value.waiting.isEmpty, !state.value.roundScheduled else { return }
        state.value.roundScheduled = true
        if .now() - start < Self.budget {
            state.value.burstStart = start
            loop.execute { [self] in round() }
        } else {
            state.value.burstStart = nil
            // The pause starts once the jobs this round queued on the loop (the calls' task
            // completions) have run: started at once, it could end while they run, and the
            // loop would begin the next round without polling its sockets.
            loop.execute { [self] in loop.scheduleTask(in: Self.pause) { [self] in round() } }
        }
    }
}
