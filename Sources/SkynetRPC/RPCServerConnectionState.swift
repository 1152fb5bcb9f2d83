/// The life of one server connection: serving, draining for shutdown, closed; when a
/// request starts, and when it may read more.
///
/// A pure core of the connection handler. It counts calls in flight and requests waiting,
/// and decides:
/// - **backpressure**: the connection reads more only while fewer than `maxInFlight`
///   calls run, no request waits and the socket accepts writes, so a peer that floods
///   requests, or sends them without reading the answers, is held back by TCP instead of
///   growing memory;
/// - **turns**: at most `maxPerTurn` requests start per turn (one read, or one drain of
///   the waiting line, which goes to the back of the event loop's queue), so a peer that
///   pipelines thousands of requests is served a slice at a time, taking turns with the
///   loop's other connections instead of making them wait for all of its own;
/// - **draining**: on graceful shutdown the handler tells the peer to go away, keeps
///   answering what is in flight (and refusing, unrun, what arrives), and closes once
///   nothing is in flight and the linger has passed, so requests already on the wire get
///   an answer rather than a reset.
struct RPCServerConnectionState: Sendable {
    enum Phase: Sendable { case serving, draining, closed }

    /// What the handler must do after an event.
    enum Action: Equatable, Sendable {
        case none
        /// Close the connection.
        case close
        /// Ask the channel for the read it held back.
        case read
    }

    /// The most calls that may run at once before reading stops.
    let maxInFlight: Int
    /// The most requests started in one turn.
    let maxPerTurn: Int
    /// Requests read and not yet started: the handler holds them, in order.
    private(set) var waiting = 0
    private var startedThisTurn = 0
    private(set) var phase: Phase = .serving
    private(set) var inFlight = 0
    private var writable = true
    /// The channel asked to read while the connection was held back.
    private var readHeld = false
    /// After going away, the time for requests already on the wire to arrive has passed.
    private var lingered = false

    init(maxInFlight: Int = 1_024, maxPerTurn: Int = 32) {
        precondition(maxInFlight > 0 && maxPerTurn > 0, "at least one call must be able to run")
        self.maxInFlight = maxInFlight
        self.maxPerTurn = maxPerTurn
    }

    /// New requests are served only while serving; draining answers them `Unavailable`.
    var isAccepting: Bool { phase == .serving }

    /// True while the connection holds back reading.
    var isHoldingReads: Bool { readHeld }

    /// A request arrived: true to start it now (or, when not serving, to refuse it at
    /// once), false to put it at the end of the waiting line.
    mutating func requestArrived() -> Bool {
        guard phase == .serving else { return true }
        if waiting == 0, inFlight < maxInFlight, startedThisTurn < maxPerTurn {
            startedThisTurn += 1
            return true
        }
        waiting += 1
        return false
    }

    /// A turn ended (a read was handled, or a drain ran): true when waiting requests may
    /// start in a drain turn of their own, queued behind the loop's other work.
    mutating func turnEnded() -> Bool {
        startedThisTurn = 0
        return mayDrain
    }

    /// Waiting requests may start now.
    var mayDrain: Bool { waiting > 0 && phase == .serving && inFlight < maxInFlight }

    /// A drain turn begins: how many waiting requests to take from the front of the line
    /// and start now.
    mutating func drainTurn() -> Int {
        guard mayDrain else { return 0 }
        let count = min(waiting, maxPerTurn, maxInFlight - inFlight)
        waiting -= count
        startedThisTurn = count
        return count
    }

    /// A drain turn ended: whether another drain turn is due, and what to do about reading
    /// (the held read goes out once nobody waits).
    mutating func drainEnded() -> (drainAgain: Bool, action: Action) {
        (turnEnded(), resumeReading())
    }

    /// The channel wants to read: true to read now, false to hold it back until calls
    /// finish, the waiting line empties or the socket drains.
    mutating func readRequested() -> Bool {
        guard phase != .closed else { return false }
        if inFlight < maxInFlight, waiting == 0, writable { return true }
        readHeld = true
        return false
    }

    mutating func callStarted() {
        precondition(phase == .serving, "calls start only while serving")
        inFlight += 1
    }

    mutating func callFinished() -> Action {
        precondition(inFlight > 0, "more calls finished than started")
        inFlight -= 1
        if phase == .draining, inFlight == 0, lingered { return .close }
        return resumeReading()
    }

    /// The socket's writability changed (its send buffer crossed a watermark).
    mutating func writabilityChanged(_ isWritable: Bool) -> Action {
        writable = isWritable
        return resumeReading()
    }

    /// Graceful shutdown (or an idle timeout): true when the handler must now tell the
    /// peer to go away and start the linger; false when already draining or closed.
    mutating func quiesce() -> Bool {
        guard phase == .serving else { return false }
        phase = .draining
        waiting = 0   // the handler refuses them, unrun
        return true
    }

    /// The linger after going away has passed.
    mutating func lingerElapsed() -> Action {
        lingered = true
        return phase == .draining && inFlight == 0 ? .close : .none
    }

    mutating func closed() { phase = .closed }

    private mutating func resumeReading() -> Action {
        guard readHeld, phase != .closed, inFlight < maxInFlight, waiting == 0, writable else { return .none }
        readHeld = false
        return .read
    }
}
