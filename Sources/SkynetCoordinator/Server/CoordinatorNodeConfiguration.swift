import SkynetTree

/// How a coordinator node stores, snapshots and bounds its state.
public struct CoordinatorNodeConfiguration: Sendable {
    /// The node's name, shown by `status`.
    public var name: String
    /// Where the WAL and snapshots live (created when missing, locked while in use).
    public var dataDirectory: String
    /// The fewest log entries between two snapshots; a snapshot also waits until the log
    /// has grown by twice the last snapshot's size (see `SnapshotSchedule`). The log before a
    /// snapshot is dropped once it is durable.
    public var snapshotEvery: UInt64
    /// Path and value limits.
    public var treeLimits: TreeLimits
    /// Watch history and per-watcher buffering bounds.
    public var watchLimits: WatchHubLimits
    /// Shortest and longest session TTL a client may ask for.
    public var sessionTTLRange: ClosedRange<Duration>
    /// How often idle watchers are told the current revision.
    public var progressInterval: Duration
    /// Watches one connection may hold; one more is refused `ResourceExhausted`.
    public var maxWatchesPerConnection: Int
    /// Writes proposed and not yet durable; one more is refused `ResourceExhausted`, so a
    /// flood of writes costs bounded memory while the log catches up.
    public var maxPendingWrites: Int

    /// Creates a configuration; defaults: snapshots at least 10,000 entries apart, TTLs from 100 ms
    /// to 1 hour, progress every second, 10,000 watches per
    /// connection, 65,536 writes waiting for the log.
    public init(
        name: String = "skynetd", dataDirectory: String, snapshotEvery: UInt64 = 10_000,
        treeLimits: TreeLimits = .default, watchLimits: WatchHubLimits = .init(),
        sessionTTLRange: ClosedRange<Duration> = .milliseconds(100)...(.seconds(3600)),
        progressInterval: Duration = .seconds(1),
        maxWatchesPerConnection: Int = 10_000, maxPendingWrites: Int = 65_536
    ) {
        self.name = name
        self.dataDirectory = dataDirectory
        self.snapshotEvery = snapshotEvery
        self.treeLimits = treeLimits
        self.watchLimits = watchLimits
        self.sessionTTLRange = sessionTTLRange
        self.progressInterval = progressInterval
        self.maxWatchesPerConnection = maxWatchesPerConnection
        self.maxPendingWrites = maxPendingWrites
    }
}
