/// Where a timer is in its life. Delivered and cancelled timers are gone (404).
public enum TimerState: String, Hashable, Sendable, CaseIterable {
    /// Waiting for its due time, or for its next retry.
    case pending
    /// A callback attempt is in flight.
    case delivering
    /// Every attempt failed; kept with its last error until cancelled.
    case failed
}
