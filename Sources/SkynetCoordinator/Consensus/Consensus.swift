/// The seam between a coordinator node and the way its log gets committed.
///
/// The node proposes encoded commands and applies what the consensus reports committed,
/// strictly in index order; it never writes the log itself. `SingleNodeConsensus` commits
/// an entry once it is fsynced; a Raft implementation plugs in here without the tree,
/// the watch hub or the server changing.
public protocol Consensus: Sendable {
    /// Appends `data` to the log and returns its index; it is applied once committed.
    /// Throws `NotLeader`-style errors when this node cannot accept writes.
    func propose(_ data: [UInt8]) throws -> UInt64

    /// Starts reporting committed entries (in index order, each once) to `apply`, and
    /// entries that can never commit to `fail`. Called once, before the first proposal.
    func start(
        apply: @escaping @Sendable ([LogEntry]) -> Void,
        fail: @escaping @Sendable ([LogEntry], any Error) -> Void)

    /// A snapshot through `index` is durable: log entries up to it may be dropped.
    func snapshotted(through index: UInt64)

    /// True when this node may accept proposals.
    var isLeader: Bool { get }

    /// Durability counters (fsyncs, entries, bytes) for status and benchmarks.
    var stats: WriteAheadLog.Stats { get }

    /// Waits for queued entries, then stops; later proposals throw.
    func stop()
}
