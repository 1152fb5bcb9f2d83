import Dispatch

/// Consensus of one: an entry is committed as soon as the write-ahead log has fsynced it.
///
/// Group commit in the log makes concurrent proposals share fsyncs. Committed batches are
/// applied on a serial queue of their own, in index order, so applying them (the tree,
/// watch fan-out, notification encoding, answering writers) overlaps the next fsync
/// instead of delaying it.
public final class SingleNodeConsensus: Consensus {
    private let log: WriteAheadLog
    private let applyQueue = DispatchQueue(label: "skynet.apply", qos: .userInteractive)

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
        // A failure is reported after the batches durable before it were applied.
        log.start(
            onDurable: { entries in queue.async { apply(entries) } },
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
