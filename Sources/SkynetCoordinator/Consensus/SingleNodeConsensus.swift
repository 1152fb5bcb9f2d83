/// Consensus of one: an entry is committed as soon as the write-ahead log has fsynced it.
///
/// Group commit in the log makes concurrent proposals share fsyncs; entries are reported
/// in index order from the log's flush queue.
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
        log.start(onDurable: apply, onFailure: { entries, error in fail(entries, error) })
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
