/// Consensus of one: an entry is committed as soon as the write-ahead log has fsynced it.
///
/// Group commit in the log makes concurrent proposals share fsyncs. Each durable batch is
/// applied right on the log's thread, before the next batch is written: writes that arrive
/// meanwhile join the next batch. An earlier design applied on a queue of its own, so
/// applying overlapped the next fsync; on two cores, where the event loops, the log and
/// the apply thread all want the CPU, that hop cost a thread wake-up and a context switch
/// per batch and kept batches small. Applying inline gave 37% more puts per second at 25%
/// less CPU per put (`sky-bench vs-etcd`, docs/PERFORMANCE.md).
public final class SingleNodeConsensus: Consensus {
    private let log: WriteAheadLog

    /// Commits through `log`.
    public init(log: WriteAheadLog) {
        self.log = log
    }

    public func propose(_ data: [UInt8]) throws -> UInt64 {
        try log.append(data)
    }

    public func start(
        apply: @escaping @Sendable ([LogEntry]) -> Void,
        fail: @escaping @Sendable ([LogEntry], any Error) -> Void
    ) {
        // Both on the log's thread, in order: a failure comes after every batch durable
        // before it was applied.
        log.start(onDurable: apply, onFailure: fail)
    }

    public func snapshotted(through index: UInt64) {
        log.rotate()
        log.removeSegments(coveredBy: index)
    }

    public var isLeader: Bool { true }

    public var stats: WriteAheadLog.Stats { log.stats }

    public func stop() {
        log.close()
    }
}
