/// One entry of the replicated log: its position and the command it carries, encoded.
public struct LogEntry: Hashable, Sendable {
    /// Position in the log, from 1, without gaps.
    public var index: UInt64
    /// The encoded `CoordinatorCommand`.
    public var data: [UInt8]

    /// Creates an entry.
    public init(index: UInt64, data: [UInt8]) {
        self.index = index
        self.data = data
    }

    /// Reads a WAL record payload: `[u64 index, little-endian][data]` (written by
    /// `StorageRecord.appendLogEntry`).
    init?(walPayload bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 8 else { return nil }
        index = StorageRecord.readUInt64(bytes, 0)
        data = Array(bytes[8...])
    }
}
