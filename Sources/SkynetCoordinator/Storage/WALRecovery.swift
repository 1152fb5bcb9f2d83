import Logging

/// What recovery found in a data directory: the snapshot to load and the log after it.
public struct RecoveredLog: Sendable {
    /// The newest snapshot, if any: its index and file path.
    public var snapshot: (index: UInt64, path: String)?
    /// Every durable entry after the snapshot, in order.
    public var entries: [LogEntry]
    /// The index of the last durable entry (the snapshot's when the log adds none).
    public var lastIndex: UInt64
    /// The segment to keep appending to, or `nil` to start a new one.
    public var segmentName: String?
    /// Bytes cut from a torn tail (0 when the log ended cleanly).
    public var truncatedBytes: Int
}

/// Reads a data directory back: newest snapshot, then every WAL segment in order.
///
/// A torn tail in the last segment (a record cut short, or a damaged record with nothing
/// but zeros after it) was never acknowledged: it is cut off with a warning. Damage
/// anywhere else, or a missing stretch of the log, refuses to start with an error naming
/// the file and offset.
public enum WALRecovery {
    /// Recovers the log of `directory`.
    public static func recover(_ directory: DataDirectory, logger: Logger) throws -> RecoveredLog {
        let snapshot = try directory.snapshots().last.map { (index: $0.index, path: directory.file($0.name)) }
        let snapshotIndex = snapshot?.index ?? 0
        let segments = try directory.segments()
        var entries: [LogEntry] = []
        var lastIndex = snapshotIndex
        var truncated = 0
        for (position, segment) in segments.enumerated() {
            let path = directory.file(segment.name)
            let bytes = try PosixFile.readAll(path)
            var previous: UInt64? = nil
            let result = try bytes.withUnsafeBytes { raw in
                try StorageRecord.scan(raw) { payload, offset in
                    guard let entry = LogEntry(walPayload: payload) else {
                        throw StorageError.corrupt(path: path, offset: offset, reason: "record too short for a log entry")
                    }
                    let expected = previous.map { $0 + 1 } ?? segment.first
                    guard entry.index == expected else { throw StorageError.gap(path: path, expected: expected, found: entry.index) }
                    previous = entry.index
                    guard entry.index > snapshotIndex else { return }
                    guard entry.index == lastIndex + 1 else { throw StorageError.gap(path: path, expected: lastIndex + 1, found: entry.index) }
                    entries.append(entry)
                    lastIndex = entry.index
                }
            }
            let isLast = position == segments.count - 1
            switch result {
            case .clean:
                break
            case .tornTail(let offset) where isLast:
                truncated = bytes.count - offset
                let metadata: Logger.Metadata = ["wal.segment": "\(segment.name)", "wal.offset": "\(offset)", "wal.bytes": "\(truncated)"]
                // Zeros only: the space the log writes ahead of its records (a stop without
                // `close`), not a write cut short.
                let zeros = bytes.withUnsafeBytes { StorageRecord.isZero($0, from: offset) }
                if zeros {
                    logger.debug("cutting the zeros written ahead of the write-ahead log's last record", metadata: metadata)
                } else {
                    logger.warning("cutting a torn tail off the write-ahead log (never acknowledged)", metadata: metadata)
                }
                try PosixFile.truncate(path, to: offset)
            case .tornTail(let offset):
                throw StorageError.corrupt(path: path, offset: offset, reason: "segment ends inside a record but later segments exist")
            case let .corrupt(offset, reason):
                throw StorageError.corrupt(path: path, offset: offset, reason: reason)
            }
        }
        if let first = segments.first, first.first > snapshotIndex + 1 {
            throw StorageError.gap(path: directory.file(first.name), expected: snapshotIndex + 1, found: first.first)
        }
        // Keep appending to the last segment only when it continues the recovered log.
        let resume = segments.last.flatMap { last -> String? in
            last.first <= lastIndex + 1 ? last.name : nil
        }
        return RecoveredLog(snapshot: snapshot, entries: entries, lastIndex: lastIndex, segmentName: resume, truncatedBytes: truncated)
    }
}
