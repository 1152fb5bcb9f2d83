import Metrics
import Skynet
import Synchronization

/// What one timer instance has done since it started, as the dashboard shows it.
package struct TimerFiguresSnapshot: Codable, Hashable, Sendable {
    /// Timers this instance holds now (pending, delivering, failed).
    package var held: Int
    /// Shards this instance holds.
    package var shards: Int
    /// Delivery attempts started.
    package var attempts: Int
    /// Callbacks delivered.
    package var delivered: Int
    /// Attempts that failed and were scheduled again.
    package var retried: Int
    /// Timers that failed their last attempt.
    package var failed: Int
    /// Median lateness of the last attempts (from due time to the attempt's start), in ms.
    package var latenessP50Ms: Double
    /// 99th percentile of the same, in ms.
    package var latenessP99Ms: Double
}

/// The timer instance's counters: swift-metrics series (`skynet_timer_*`, recorded once a
/// backend is bootstrapped) and the same figures kept here for the dashboard, with the
/// lateness of the last 1,024 attempts.
final class TimerFigures: Sendable {
    private struct Counts {
        var attempts = 0
        var delivered = 0
        var retried = 0
        var failed = 0
        var lateness = RecentSamples()
    }

    private let counts = Mutex(Counts())
    private let attemptsCounter = Counter(label: "skynet_timer_attempts_total")
    private let deliveredCounter = Counter(label: "skynet_timer_delivered_total")
    private let retriedCounter = Counter(label: "skynet_timer_retried_total")
    private let failedCounter = Counter(label: "skynet_timer_failed_total")
    private let latenessTimer = Metrics.Timer(label: "skynet_timer_lateness_seconds")
    private let heldGauge = Gauge(label: "skynet_timer_held")

    /// Attempts start for timers that were due at `dues` (ms); it is `now`.
    func attempting(dues: [Int64], now: Int64) {
        counts.withLock { counts in
            counts.attempts += dues.count
            for due in dues { counts.lateness.add(Double(max(0, now - due))) }
        }
        attemptsCounter.increment(by: dues.count)
        for due in dues { latenessTimer.recordMilliseconds(max(0, now - due)) }
    }

    func delivered() {
        counts.withLock { $0.delivered += 1 }
        deliveredCounter.increment()
    }

    func attemptFailed(final: Bool) {
        counts.withLock { if final { $0.failed += 1 } else { $0.retried += 1 } }
        (final ? failedCounter : retriedCounter).increment()
    }

    /// The figures now; `held` and `shards` come from the engine.
    func snapshot(held: Int, shards: Int) -> TimerFiguresSnapshot {
        heldGauge.record(held)
        let counts = counts.withLock { $0 }
        let lateness = RecentSamples.summary(counts.lateness.values, percentiles: [0.5, 0.99]).percentiles
        return TimerFiguresSnapshot(
            held: held, shards: shards, attempts: counts.attempts, delivered: counts.delivered, retried: counts.retried,
            failed: counts.failed, latenessP50Ms: lateness[0], latenessP99Ms: lateness[1])
    }
}
