import Dispatch
import Logging
import Metrics
import Synchronization

/// The append side of the write-ahead log, with group commit.
///
/// `append` frames an entry into the pending batch and returns its index at once. One
/// flush at a time runs on the log's own queue: it writes the whole pending batch, calls
/// fdatasync once, then hands the batch to `onDurable` in index order. Entries appended
/// while an fsync is in flight share the next one, so throughput grows with concurrency
/// while each write still waits for exactly one fsync after it.
///
/// If a write or fsync fails the log stops: the failed batch and everything after it go
/// to `onFailure` and later appends throw, because an fsync failure may have dropped
/// data the kernel had buffered (there is no safe retry).
public final class WriteAheadLog: Sendable {
    /// Counters for status and benchmarks.
    public struct Stats: Sendable {
        /// fsync calls so far.
        public var syncs: Int
        /// Entries made durable so far.
        public var entries: Int
        /// Bytes written so far.
        public var bytes: Int
    }

    private struct State: ~Copyable {
        var nextIndex: UInt64
        var pending: [LogEntry] = []
        var pendingBytes: [UInt8] = []
        var flushing = false
        var rotateRequested = false
        var failure: StorageError?
        var stats = Stats(syncs: 0, entries: 0, bytes: 0)
        /// When the flush waits for more appends (a pure core).
        var groupCommit = GroupCommit()
    }

    /// The longest wait for more appends under load (see `GroupCommit`).
    static let linger = DispatchTimeInterval.microseconds(500)

    private struct Segment: ~Copyable {
        var file: PosixFile
        /// Bytes of records: where the next batch goes.
        var size: Int
        /// Bytes the file holds: its records, then zeros written ahead of them.
        var allocated: Int
        /// How much the next extension adds.
        var step = WriteAheadLog.firstStep

        init(file: PosixFile, size: Int) {
            self.file = file
            self.size = size
            allocated = size
        }

        /// Makes room for `count` more bytes: zeros written ahead, in steps that double up
        /// to `maxStep`. An fdatasync after a write that grows the file must also write the
        /// inode (its size), a second synchronous I/O; a batch written over zeros already
        /// on disk changes no metadata, so its fdatasync is one write.
        mutating func reserve(_ count: Int) throws(StorageError) {
            guard size + count > allocated else { return }
            let target = max(size + count, allocated + step)
            step = min(step * 2, WriteAheadLog.maxStep)
            var offset = allocated
            while offset < target {
                let chunk = min(WriteAheadLog.zeros.count, target - offset)
                try file.write(chunk == WriteAheadLog.zeros.count ? WriteAheadLog.zeros : [UInt8](repeating: 0, count: chunk), at: offset)
                offset += chunk
            }
            allocated = target
        }

        /// Cuts the zeros after the last record: only the newest segment may have them
        /// (recovery reads zeros after the last record of any other as damage).
        mutating func trimToRecords() throws(StorageError) {
            guard allocated > size else { return }
            try file.truncate(to: size)
            try file.sync()
            allocated = size
        }
    }

    static let firstStep = 64 << 10
    static let maxStep = 4 << 20
    static let zeros = [UInt8](repeating: 0, count: 64 << 10)

    private let directory: DataDirectory
    private let state: Mutex<State>
    /// Owned by the flush queue only.
    private let segment: Mutex<Segment>
    private let queue = DispatchQueue(label: "skynet.wal", qos: .userInteractive)
    private let segmentLimit: Int
    private let logger: Logger
    private let handlers: Mutex<Handlers?>
    private let lingering = DispatchSemaphore(value: 0)
    /// How long each batch's fsync took (`skynet_coordinator_fsync_seconds`).
    private let fsyncLatency = Metrics.Timer(label: "skynet_coordinator_fsync_seconds")

    /// Opens the log for appending after `lastIndex`, continuing `segmentName` (as left by
    /// recovery) or starting a new segment when it is `nil`.
    public init(
        directory: DataDirectory, lastIndex: UInt64, segmentName: String?,
        segmentLimit: Int = 64 << 20, logger: Logger
    ) throws(StorageError) {
        self.directory = directory
        self.segmentLimit = segmentLimit
        self.logger = logger
        let name = segmentName ?? DataDirectory.segmentName(lastIndex + 1)
        let file = try PosixFile.openForWriting(directory.file(name))
        if segmentName == nil { try PosixFile.syncDirectory(directory.path) }
        segment = Mutex(Segment(file: file, size: try PosixFile.size(directory.file(name))))
        state = Mutex(State(nextIndex: lastIndex + 1))
        handlers = Mutex(nil)
    }

    /// Sets where durable (and failed) batches go; call once before the first append.
    public func start(
        onDurable: @escaping @Sendable ([LogEntry]) -> Void,
        onFailure: @escaping @Sendable ([LogEntry], StorageError) -> Void
    ) {
        handlers.withLock { $0 = Handlers(durable: onDurable, failure: onFailure) }
    }

    /// Counters so far.
    public var stats: Stats { state.withLock { $0.stats } }

    /// Queues `data` as the next entry and returns its index; it is durable when `onDurable`
    /// reports it.
    @discardableResult
    public func append(_ data: [UInt8]) throws(StorageError) -> UInt64 {
        let (index, startFlush) = try state.withLock { (state) throws(StorageError) -> (UInt64, Bool) in
            if let failure = state.failure { throw failure }
            let index = state.nextIndex
            state.nextIndex += 1
            StorageRecord.appendLogEntry(index: index, data: data, to: &state.pendingBytes)
            state.pending.append(LogEntry(index: index, data: data))
            if state.groupCommit.appended(pending: state.pending.count) { lingering.signal() }
            let start = !state.flushing
            state.flushing = true
            return (index, start)
        }
        if startFlush { queue.async { self.flushLoop() } }
        return index
    }

    /// Starts a new segment with the next batch, so older segments can be removed once a
    /// snapshot covers them.
    public func rotate() {
        state.withLock { $0.rotateRequested = true }
    }

    /// Removes segments whose every entry is at or before `index` (a durable snapshot's).
    public func removeSegments(coveredBy index: UInt64) {
        queue.async {
            do {
                let segments = try self.directory.segments()
                // A segment is covered when the next one starts at or before index + 1.
                for (i, segment) in segments.enumerated().dropLast() where segments[i + 1].first <= index + 1 {
                    try PosixFile.remove(self.directory.file(segment.name))
                    self.logger.debug("removed wal segment", metadata: ["wal.segment": "\(segment.name)"])
                }
                try PosixFile.syncDirectory(self.directory.path)
            } catch {
                self.logger.warning("could not remove old wal segments", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Waits for the queued batches, then closes the segment. Appends after this throw.
    public func close() {
        let healthy = state.withLock { state in
            defer { if state.failure == nil { state.failure = .failed(reason: "the log is closed") } }
            return state.failure == nil
        }
        // A flush already scheduled writes everything queued before it returns.
        queue.sync {}
        segment.withLock { segment in
            // A clean stop leaves no zeros after the last record.
            if healthy { try? segment.trimToRecords() }
            segment.file.close()
        }
    }

    private func flushLoop() {
        // The batch being written, swapped with the pending one under the lock: appends go
        // on into arrays whose room the last batches made, so a batch of tens of kilobytes
        // is not allocated and freed again per fsync.
        var entries: [LogEntry] = []
        var bytes: [UInt8] = []
        while true {
            lingerForMore()
            let rotate = state.withLock { state -> Bool? in
                guard !state.pending.isEmpty else {
                    state.flushing = false
                    state.groupCommit.wentIdle()
                    return nil
                }
                defer { state.rotateRequested = false }
                state.groupCommit.took(state.pending.count)
                swap(&state.pending, &entries)
                swap(&state.pendingBytes, &bytes)
                return state.rotateRequested
            }
            guard let rotate else { return }
            do {
                try segment.withLock { (segment) throws(StorageError) in
                    if rotate || segment.size >= segmentLimit {
                        try segment.trimToRecords()
                        segment.file.close()
                        let file = try PosixFile.openForWriting(directory.file(DataDirectory.segmentName(entries[0].index)))
                        try file.truncate(to: 0)
                        segment = Segment(file: file, size: 0)
                        try PosixFile.syncDirectory(directory.path)
                    }
                    try segment.reserve(bytes.count)
                    try segment.file.write(bytes, at: segment.size)
                    let started = ContinuousClock.now
                    try segment.file.sync()
                    let took = (ContinuousClock.now - started).components
                    fsyncLatency.recordNanoseconds(took.seconds * 1_000_000_000 + took.attoseconds / 1_000_000_000)
                    segment.size += bytes.count
                }
            } catch {
                fail(entries, error)
                return
            }
            state.withLock { state in
                state.stats.syncs += 1
                state.stats.entries += entries.count
                state.stats.bytes += bytes.count
            }
            handlers.withLock { $0 }?.durable(entries)
            Self.empty(&entries)
            Self.empty(&bytes)
        }
    }

    /// Empties a batch array for reuse, keeping its room unless a burst of large entries
    /// made it bigger than batches usually are.
    private static func empty<T>(_ array: inout [T]) {
        if array.capacity * MemoryLayout<T>.stride > 4 << 20 { array = [] } else { array.removeAll(keepingCapacity: true) }
    }

    /// Waits up to `linger` for more appends when `GroupCommit` says so.
    private func lingerForMore() {
        let waits = state.withLock { state -> Bool in
            state.failure == nil && state.groupCommit.shouldLinger(pending: state.pending.count)
        }
        guard waits else { return }
        if lingering.wait(timeout: .now() + Self.linger) == .timedOut {
            // An append may have reached the target since: then it signalled, and that
            // signal is taken here so the next linger starts even.
            let signalled = state.withLock { $0.groupCommit.timedOut() }
            if signalled { lingering.wait() }
        }
    }

    private func fail(_ entries: [LogEntry], _ error: StorageError) {
        logger.critical("write-ahead log failed; refusing further writes", metadata: ["error": "\(error)"])
        let rest = state.withLock { state -> [LogEntry] in
            state.failure = .failed(reason: error.description)
            state.flushing = false
            defer { state.pending.removeAll(); state.pendingBytes.removeAll() }
            return state.pending
        }
        handlers.withLock { $0 }?.failure(entries + rest, .failed(reason: error.description))
    }
}

/// Where a log's durable and failed batches go.
///
/// A class, set once: closures kept directly as a `Mutex`'s generic value come back from
/// each `withLock { $0 }` wrapped in two more reabstraction thunks (the inout write-back
/// re-wraps them), so a call per flush grew a chain of thunks without end: each batch
/// cost more than the last, and the stack would have overflowed in the end.
private final class Handlers: Sendable {
    let durable: @Sendable ([LogEntry]) -> Void
    let failure: @Sendable ([LogEntry], StorageError) -> Void

    init(durable: @escaping @Sendable ([LogEntry]) -> Void, failure: @escaping @Sendable ([LogEntry], StorageError) -> Void) {
        self.durable = durable
        self.failure = failure
    }
}
