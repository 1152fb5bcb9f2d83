/// The attempts of one `ServiceClient.send`, as a pure core: one deadline over all of
/// them, each attempt's timeout, which instances were tried, and whether a failure may go
/// to another instance. Time comes in as a `Duration` from the shell's origin.
///
/// The rules: every attempt must start before the deadline; a call that retries on a
/// timeout (idempotent, with retries) gives each attempt half the time left (at least
/// 100 ms, never past the deadline), so a slow instance leaves time to try another; any
/// other call gets all the time left. A failure goes to another instance only when the
/// caller allows retries, `RetryRule` says the failure is retryable, the deadline has not
/// passed and the retry budget grants it (the shell asks the budget, which it shares).
package struct CallAttempts: Sendable {
    /// What to do next.
    package enum Step: Equatable, Sendable {
        /// Send an attempt with this timeout; `retry` is its number when it is not the first.
        case attempt(timeout: Duration, retry: Int?)
        /// The deadline passed before an attempt could start.
        case deadlineExceeded
    }

    /// When the caller stops waiting.
    package let deadline: Duration
    private let retriesOnTimeout: Bool
    private let retries: Bool
    /// Attempts started so far.
    package private(set) var attempts = 0
    /// Instances that failed an attempt, to avoid on the next.
    package private(set) var tried: Set<String> = []

    /// A call starting at `now` that may take `timeout` over all its attempts.
    package init(now: Duration, timeout: Duration, idempotent: Bool, retries: Bool) {
        deadline = now + timeout
        retriesOnTimeout = idempotent && retries
        self.retries = retries
    }

    /// True before the first attempt (the call then pays into the retry budget).
    package var isFirst: Bool { attempts == 0 }

    /// An instance was picked at `now`: the attempt to make, or that it is too late.
    package mutating func start(now: Duration) -> Step {
        let remaining = deadline - now
        guard remaining > .zero else { return .deadlineExceeded }
        attempts += 1
        let timeout = retriesOnTimeout ? max(remaining / 2, min(remaining, .milliseconds(100))) : remaining
        return .attempt(timeout: timeout, retry: attempts > 1 ? attempts : nil)
    }

    /// Whether a failure judged `retryable` may go to another instance at `now`, before
    /// asking the retry budget.
    package func mayRetry(retryable: Bool, now: Duration) -> Bool {
        retries && retryable && now < deadline
    }

    /// The budget granted a retry: the next attempt avoids `address`.
    package mutating func retrying(after address: String) {
        tried.insert(address)
    }
}
