import Dispatch
import Synchronization

/// Consensus of one: an entry is committed as soon as the write-ahead log has fsynced it.
///
/// Group commit in the log makes concurrent proposals share fsyncs. Committed batches are
/// applied on a serial queue of their own, in index order, so applying them (the tree,
/// watch fan-out, notification encoding, answering writers) overlaps the next fsync
/// instead of delaying it. When no write waits for the next fsync and no earlier batch
/// waits to be applied, a small batch (a lone write) is applied right on the log's thread
/// instead: there is no fsync to overlap, and it is answered one thread hop sooner.
public final class SingleNodeConsensus: Consensus {
    private let log: WriteAheadLog
    private let applyQueue = DispatchQueue(label: "skynet.apply", qos: .userInteractive)
    /// The largest batch applied on the log's thread.
    static let inlineApplyLimit = 4

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
        let queue = applyQueue
        let backlog = ApplyBacklog()
        // A failure is reported after the batches durable before it were applied.
        log.start(
            // Weak: the log keeps this closure, and must not keep itself (its data directory's
            // lock goes with it).
            onDurable: { [weak log] entries in
                // The log's thread is the only one that queues batches: with none queued, no
                // earlier batch can still be waiting, so applying here keeps index order. Only
                // a small batch: a write that arrives meanwhile waits for its apply before its
                // fsync, so that wait must stay a few microseconds.
                if entries.count <= Self.inlineApplyLimit, backlog.batches.load(ordering: .acquiring) == 0,
                   log?.hasPendingAppends == false {
                    apply(entries)
                    return
                }
                backlog.batches.add(1, ordering: .releasing)
                queue.async {
                    apply(entries)
                    backlog.batches.subtract(1, ordering: .releasing)
                }
            },
            onFailure: { entries, error in queue.async { fail(entries, error) } })
    }

    public func snapshotted(through index: UInt64) {
        log.rotate()
        log.removeSegments(coveredBy: index)
    }

    public var isLeader: Bool { true }

    public var stats: WriteAheadLog.Stats { log.stats }

    public func stop() {
        log.close()
        applyQueue.sync {}
    }
}

/// Committed batches handed to the apply queue and not yet applied.
private final class ApplyBacklog: Sendable {
    let batches = Atomic<Int>(0)
}
