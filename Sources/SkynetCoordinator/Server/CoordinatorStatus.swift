/// A coordinator's view of itself and of its store, as `status` reports it.
public struct CoordinatorStatus: Hashable, Sendable {
    /// The coordinator's name (for a front over etcd, the front's).
    public var name: String
    /// Where the tree lives: `embedded` or `etcd`.
    public var store: String
    /// The store's members.
    public var members: [CoordinatorMember]
    /// The current revision of the tree.
    public var revision: Int64
    /// The oldest revision reads and watches can start from.
    public var oldestRevision: Int64
    /// The last applied log index.
    public var appliedIndex: UInt64
    /// Files in the tree.
    public var files: Int
    /// Open sessions.
    public var sessions: Int
    /// Active watches.
    public var watches: Int
    /// Bytes of WAL segments and snapshots on disk.
    public var dataSize: Int
    /// fsyncs since start.
    public var fsyncs: Int
    /// True when this node accepts writes.
    public var isLeader: Bool

    /// A status with every field given.
    public init(
        name: String, store: String, members: [CoordinatorMember], revision: Int64, oldestRevision: Int64,
        appliedIndex: UInt64, files: Int, sessions: Int, watches: Int, dataSize: Int, fsyncs: Int, isLeader: Bool
    ) {
        self.name = name
        self.store = store
        self.members = members
        self.revision = revision
        self.oldestRevision = oldestRevision
        self.appliedIndex = appliedIndex
        self.files = files
        self.sessions = sessions
        self.watches = watches
        self.dataSize = dataSize
        self.fsyncs = fsyncs
        self.isLeader = isLeader
    }
}
