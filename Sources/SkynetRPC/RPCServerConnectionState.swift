/// The life of one server connection: serving, draining for shutdown, closed; and when it
/// may read more.
///
/// A pure core of the connection handler. It counts calls in flight and decides:
/// - **backpressure**: the connection reads more only while fewer than `maxInFlight`
///   calls run and the socket accepts writes, so a peer that floods requests, or sends
///   them without reading the answers, is held back by TCP instead of growing memory;
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
    private(set) var phase: Phase = .serving
    private(set) var inFlight = 0
    private var writable = true
    /// The channel asked to read while the connection was held back.
    private var readHeld = false
    /// After going away, the time for requests already on the wire to arrive has passed.
    private var lingered = false

    init(maxInFlight: Int = 1_024) {
        precondition(maxInFlight > 0, "at least one call must be able to run")
        self.maxInFlight = maxInFlight
    }

    /// New requests are served only while serving; draining answers them `Unavailable`.
    var isAccepting: Bool { phase == .serving }

    /// True while the connection holds back reading.
    var isHoldingReads: Bool { readHeld }

    /// A request arriving now waits its turn: the cap is reached (one read may bring in
    /// more requests than the cap; reading stops after it).
    var mustQueue: Bool { phase == .serving && inFlight >= maxInFlight }

    /// A waiting request may start now.
    var hasRoom: Bool { phase == .serving && inFlight < maxInFlight }

    /// The channel wants to read: true to read now, false to hold it back until calls
    /// finish or the socket drains.
    mutating func readRequested() -> Bool {
        guard phase != .closed else { return false }
        if inFlight < maxInFlight, writable { return true }
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
        return true
    }

    /// The linger after going away has passed.
    mutating func lingerElapsed() -> Action {
        lingered = true
        return phase == .draining && inFlight == 0 ? .close : .none
    }

    mutating func closed() { phase = .closed }

    private mutating func resumeReading() -> Action {
        guard readHeld, phase != .closed, inFlight < maxInFlight, writable else { return .none }
        readHeld = false
        return .read
    }
}
