/// Jittered exponential backoff: each wait is uniformly random in [d/2, d], with d doubling
/// from the lower bound up to the upper bound ("equal jitter"), so many clients that lost
/// the same server do not come back in lockstep.
///
/// `delay(attempt:in:using:)` is the rule; a `Backoff` value counts attempts for callers
/// that retry in a loop, while `InstancePool` keeps its own count per instance.
struct Backoff {
    let range: ClosedRange<Duration>
    private var attempt = 0

    init(_ range: ClosedRange<Duration>) {
        self.range = range
    }

    /// The next wait.
    mutating func next(using generator: inout some RandomNumberGenerator) -> Duration {
        defer { attempt += 1 }
        return Self.delay(attempt: attempt, in: range, using: &generator)
    }

    /// The wait before retry number `attempt` (from 0).
    static func delay(attempt: Int, in range: ClosedRange<Duration>, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = min(range.upperBound, range.lowerBound * (1 << min(attempt, 20)))
        return ceiling * Double.random(in: 0.5...1, using: &generator)
    }
}
