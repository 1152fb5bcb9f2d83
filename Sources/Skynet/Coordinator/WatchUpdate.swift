import SkynetTree

/// What a coordinator watch yields: the events of one or more whole revisions, or (with no
/// events) a progress report that nothing watched changed up to `revision`.
public struct WatchUpdate: Hashable, Sendable {
    /// The revision the watcher is now current to.
    public var revision: Int64
    /// The events, in revision order; empty for a progress report.
    public var events: [TreeEvent]

    /// True for a progress report.
    public var isProgress: Bool { events.isEmpty }

    /// Creates an update.
    public init(revision: Int64, events: [TreeEvent]) {
        self.revision = revision
        self.events = events
    }
}
