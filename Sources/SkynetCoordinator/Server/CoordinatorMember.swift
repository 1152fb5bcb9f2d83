/// One member of the store behind a coordinator, as `status` and `sky members` report it.
public struct CoordinatorMember: Hashable, Sendable {
    /// The member's name.
    public var name: String
    /// Its id in the store (etcd's member id in hex; the node's name for the embedded store).
    public var id: String
    /// Where clients of the store reach it (etcd's client URLs; none for the embedded store,
    /// which is reached through the coordinator itself).
    public var clientURLs: [String]
    /// True for the member that leads (the one that orders writes).
    public var isLeader: Bool
    /// The Raft term it is in (0 for the embedded store).
    public var raftTerm: UInt64
    /// Bytes of its database on disk.
    public var dbSize: Int
    /// True when it answered a status request just now.
    public var isHealthy: Bool

    /// A member with every field given.
    public init(name: String, id: String, clientURLs: [String], isLeader: Bool, raftTerm: UInt64, dbSize: Int, isHealthy: Bool) {
        self.name = name
        self.id = id
        self.clientURLs = clientURLs
        self.isLeader = isLeader
        self.raftTerm = raftTerm
        self.dbSize = dbSize
        self.isHealthy = isHealthy
    }
}
