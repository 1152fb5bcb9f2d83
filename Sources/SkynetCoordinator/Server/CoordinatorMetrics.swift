import Metrics

/// The coordinator's metrics, created once per node. Labels are bounded (no paths, no
/// ids); without a backend bootstrapped by the executable they cost nothing.
struct CoordinatorMetrics: Sendable {
    /// Log entries applied.
    let applied = Counter(label: "skynet_coordinator_applied_total")
    /// Applied commands that failed (compare-and-set mismatches, unknown sessions, ...).
    let failed = Counter(label: "skynet_coordinator_failed_total")
    /// Per durable batch: from its oldest proposal to durable (the longest any of its writes
    /// waited for the log), as etcd records commit time per batch.
    let commitLatency = Metrics.Timer(label: "skynet_coordinator_commit_seconds")
    /// Entries per durable batch: how much group commit is sharing each fsync.
    let batchSize = Recorder(label: "skynet_coordinator_batch_entries")
    /// Sessions whose lease ran out.
    let sessionsExpired = Counter(label: "skynet_coordinator_sessions_expired_total")
    /// Watch events handed to connections (one per event per watch).
    let watchEvents = Counter(label: "skynet_coordinator_watch_events_total")
    /// Watches cancelled for falling behind.
    let slowConsumers = Counter(label: "skynet_coordinator_slow_consumers_total")
    /// The tree's revision.
    let revision = Gauge(label: "skynet_coordinator_revision")
    /// Files in the tree.
    let files = Gauge(label: "skynet_coordinator_files")
    /// Open sessions.
    let sessions = Gauge(label: "skynet_coordinator_sessions")
    /// Active watches.
    let watches = Gauge(label: "skynet_coordinator_watches")
}
