/// The framing shared by WAL segments and snapshot files: `[u32 length][u32 crc32c][payload]`,
/// little-endian, back to back.
///
/// A record is valid when its header is whole, its payload is whole and the payload's
/// CRC-32C matches. `StorageRecord.scan` tells a torn tail (the file ends inside the last
/// record, or only zero bytes follow) from corruption (a bad record followed by more data),
/// which is what recovery needs to decide between cutting and refusing to start.
public enum StorageRecord {
    /// Bytes before each payload.
    public static let headerSize = 8
    /// Largest payload accepted when reading; a larger length is treated as damage.
    public static let maxPayload = 256 << 20

    /// Appends one framed record holding `payload` to `out`.
    public static func append(_ payload: [UInt8], to out: inout [UInt8]) {
        appendUInt32(UInt32(payload.count), to: &out)
        appendUInt32(CRC32C.checksum(payload), to: &out)
        out.append(contentsOf: payload)
    }

    /// Appends one framed record holding a log entry, `[u64 index][data]`, built in place:
    /// no payload array is made first.
    static func appendLogEntry(index: UInt64, data: [UInt8], to out: inout [UInt8]) {
        let start = out.count
        appendUInt32(UInt32(8 + data.count), to: &out)
        appendUInt32(0, to: &out)
        appendUInt64(index, to: &out)
        out.append(contentsOf: data)
        let crc = out.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + headerSize)...])) }
        out.withUnsafeMutableBytes { bytes in
            for i in 0..<4 { bytes[start + 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        }
    }

    /// What `scan` found in a byte range.
    public enum ScanResult: Equatable, Sendable {
        /// Every byte belongs to a valid record.
        case clean
        /// The bytes from `offset` on are an incomplete last record (or zero fill): a write
        /// that never finished, so never acknowledged.
        case tornTail(offset: Int)
        /// The record at `offset` is damaged and data follows it.
        case corrupt(offset: Int, reason: String)
    }

    /// Calls `body` with each valid record's payload (and its offset) until the bytes end or
    /// a record is damaged; says which.
    public static func scan(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, Int) throws -> Void) rethrows -> ScanResult {
        var offset = 0
        while offset < bytes.count {
            let remaining = bytes.count - offset
            if remaining < headerSize { return .tornTail(offset: offset) }
            let length = Int(readUInt32(bytes, offset))
            let crc = readUInt32(bytes, offset + 4)
            if length == 0 && crc == 0 && isZero(bytes, from: offset) { return .tornTail(offset: offset) }
            if length > maxPayload {
                return .corrupt(offset: offset, reason: "record length \(length) exceeds \(maxPayload)")
            }
            let end = offset + headerSize + length
            if end > bytes.count { return .tornTail(offset: offset) }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + headerSize)..<end])
            guard CRC32C.checksum(payload) == crc else {
                // A damaged last record is a torn write; damage with data after it is not.
                return end == bytes.count || isZero(bytes, from: end)
                    ? .tornTail(offset: offset)
                    : .corrupt(offset: offset, reason: "checksum mismatch in a \(length)-byte record")
            }
            try body(payload, offset)
            offset = end
        }
        return .clean
    }

    static func isZero(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        var i = offset
        while i < bytes.count {
            if bytes[i] != 0 { return false }
            i += 1
        }
        return true
    }

    static func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 24))
    }

    static func appendUInt64(_ value: UInt64, to out: inout [UInt8]) {
        appendUInt32(UInt32(truncatingIfNeeded: value), to: &out)
        appendUInt32(UInt32(truncatingIfNeeded: value >> 32), to: &out)
    }

    static func readUInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    static func readUInt64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(readUInt32(bytes, offset)) | UInt64(readUInt32(bytes, offset + 4)) << 32
    }
}
