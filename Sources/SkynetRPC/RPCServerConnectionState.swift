/// The life of one server connection: serving, draining for shutdown, closed.
///
/// A pure core of the connection handler: it counts calls in flight and says when the
/// connection may close, so draining is decided in one place and tested without sockets.
struct RPCServerConnectionState: Sendable {
    enum Phase: Sendable { case serving, draining, closed }

    /// What the handler must do after an event.
    enum Action: Equatable, Sendable { case none, close }

    private(set) var phase: Phase = .serving
    private(set) var inFlight = 0

    /// New requests are served only while serving; draining answers them `Unavailable`.
    var isAccepting: Bool { phase == .serving }

    mutating func callStarted() {
        precondition(phase == .serving, "calls start only while serving")
        inFlight += 1
    }

    mutating func callFinished() -> Action {
        precondition(inFlight > 0, "more calls finished than started")
        inFlight -= 1
        return phase == .draining && inFlight == 0 ? .close : .none
    }

    /// Graceful shutdown: finish what is in flight, then close.
    mutating func quiesce() -> Action {
        guard phase == .serving else { return .none }
        phase = .draining
        return inFlight == 0 ? .close : .none
    }

    mutating func closed() { phase = .closed }
}
