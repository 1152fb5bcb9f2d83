/// Where a watch's actions go, as the shell that started it says: a number for its
/// connection and the id its client gave it. The hub keeps it with the watch (12 bytes)
/// so the shell needs no table of its own per watch.
public struct WatchTag: Hashable, Sendable {
    /// The shell's number for the watch's connection.
    public var owner: UInt32
    /// The watch's id on that connection.
    public var clientID: UInt64

    /// Creates a tag.
    public init(owner: UInt32 = 0, clientID: UInt64 = 0) {
        self.owner = owner
        self.clientID = clientID
    }
}
