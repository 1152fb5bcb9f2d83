/// Bounds that keep a `WatchHub`'s memory finite however watchers behave.
public struct WatchHubLimits: Hashable, Sendable {
    /// Events kept for resuming watches (whole revisions are dropped oldest first).
    public var maxHistoryEvents: Int
    /// Bytes of events kept for resuming watches.
    public var maxHistoryBytes: Int
    /// Bytes delivered to one watcher and not yet reported sent before it stops receiving
    /// live events and falls back to catching up from history.
    public var maxPendingBytes: Int

    /// Creates limits: by default 100,000 events or 64 MiB of history, 4 MiB in flight per watcher.
    public init(maxHistoryEvents: Int = 100_000, maxHistoryBytes: Int = 64 << 20, maxPendingBytes: Int = 4 << 20) {
        self.maxHistoryEvents = maxHistoryEvents
        self.maxHistoryBytes = maxHistoryBytes
        self.maxPendingBytes = maxPendingBytes
    }
}
