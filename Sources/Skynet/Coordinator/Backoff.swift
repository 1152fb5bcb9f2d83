/// Jittered exponential backoff: each wait is uniformly random in [d/2, d], with d doubling
/// from the lower bound up to the upper bound ("equal jitter"), so many clients that lost
/// the same server do not come back in lockstep.
struct Backoff<Generator: RandomNumberGenerator> {
    let range: ClosedRange<Duration>
    private var current: Duration
    private var generator: Generator

    init(_ range: ClosedRange<Duration>, generator: Generator) {
        self.range = range
        current = range.lowerBound
        self.generator = generator
    }

    /// The next wait.
    mutating func next() -> Duration {
        let ceiling = current
        current = min(range.upperBound, current * 2)
        let fraction = Double.random(in: 0.5...1, using: &generator)
        return ceiling * fraction
    }

    /// Back to the shortest wait (after a success).
    mutating func reset() { current = range.lowerBound }
}
