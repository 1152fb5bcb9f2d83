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

    /// The WAL record payload: `[u64 index][data]`.
    var walPayload: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + data.count)
        StorageRecord.appendUInt64(index, to: &out)
        out.append(contentsOf: data)
        return out
    }

    /// Reads a WAL record payload.
    init?(walPayload bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 8 else { return nil }
        index = StorageRecord.readUInt64(bytes, 0)
        data = Array(bytes[8...])
    }
}
