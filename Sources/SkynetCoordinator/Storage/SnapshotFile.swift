/// Snapshot files: framed records written to a temporary file, fsynced, then renamed into
/// place, so a named snapshot is always whole.
///
/// The payloads are the state machine's business; this type adds a trailer record
/// (`SKYSNAP-END` + the record count) and checks it when reading, so a truncated or
/// damaged snapshot is refused by name instead of loading part of a tree.
public enum SnapshotFile {
    static let trailerMagic = Array("SKYSNAP-END".utf8)

    /// Writes the records `body` appends as snapshot `index` in `directory`; returns its size.
    @discardableResult
    public static func write(
        to directory: DataDirectory, index: UInt64, _ body: (inout SnapshotSink) throws -> Void
    ) throws -> Int {
        let name = DataDirectory.snapshotName(index)
        let temporary = directory.file(name + ".tmp")
        let file = try PosixFile.create(temporary)
        var sink = SnapshotSink(file: file)
        try body(&sink)
        var trailer = trailerMagic
        StorageRecord.appendUInt64(UInt64(sink.records), to: &trailer)
        try sink.append(trailer)
        try sink.flush()
        try file.sync()
        file.close()
        try PosixFile.rename(temporary, to: directory.file(name))
        try PosixFile.syncDirectory(directory.path)
        return sink.written
    }

    /// Calls `body` with each record of the snapshot at `path`, in order. Throws
    /// `StorageError.corrupt` naming the offset when the file is damaged or incomplete.
    public static func read(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let bytes = try PosixFile.readAll(path)
        try bytes.withUnsafeBytes { raw in
            var records: [Range<Int>] = []
            let result = StorageRecord.scan(raw) { payload, offset in
                records.append((offset + StorageRecord.headerSize)..<(offset + StorageRecord.headerSize + payload.count))
            }
            switch result {
            case .clean: break
            case .tornTail(let offset): throw StorageError.corrupt(path: path, offset: offset, reason: "snapshot ends inside a record")
            case let .corrupt(offset, reason): throw StorageError.corrupt(path: path, offset: offset, reason: reason)
            }
            guard let last = records.last else { throw StorageError.corrupt(path: path, offset: 0, reason: "empty snapshot") }
            let trailer = UnsafeRawBufferPointer(rebasing: raw[last])
            guard trailer.count == trailerMagic.count + 8, trailer.prefix(trailerMagic.count).elementsEqual(trailerMagic),
                  StorageRecord.readUInt64(trailer, trailerMagic.count) == UInt64(records.count - 1) else {
                throw StorageError.corrupt(path: path, offset: last.lowerBound, reason: "snapshot has no valid trailer")
            }
            for range in records.dropLast() { try body(UnsafeRawBufferPointer(rebasing: raw[range])) }
        }
    }
}

/// Where a state machine writes its snapshot records; buffered into large writes.
public struct SnapshotSink: ~Copyable {
    fileprivate let file: PosixFile
    private var buffer: [UInt8] = []
    fileprivate private(set) var records = 0
    fileprivate private(set) var written = 0

    fileprivate init(file: PosixFile) {
        self.file = file
        buffer.reserveCapacity(1 << 20)
    }

    /// Appends one record.
    public mutating func append(_ payload: [UInt8]) throws {
        StorageRecord.append(payload, to: &buffer)
        records += 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    fileprivate mutating func flush() throws {
        try file.write(buffer)
        written += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}
