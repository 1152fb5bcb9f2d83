import Glibc

/// Why the data directory cannot be used. Each case names the file and, for damage, the offset.
public enum StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Another process holds the directory's lock.
    case locked(directory: String, holder: String)
    /// A system call failed.
    case io(path: String, operation: String, errno: Int32)
    /// A file is damaged before its tail; starting would silently lose or invent data.
    case corrupt(path: String, offset: Int, reason: String)
    /// The log is not contiguous (an entry or a whole segment is missing).
    case gap(path: String, expected: UInt64, found: UInt64)
    /// The log could not be made durable; no further writes are accepted.
    case failed(reason: String)

    public var description: String {
        switch self {
        case let .locked(directory, holder):
            "data directory \(directory) is in use by another process (\(holder)); stop it or choose another --data-dir"
        case let .io(path, operation, errno):
            "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        case let .corrupt(path, offset, reason):
            "\(path) is corrupt at offset \(offset): \(reason); refusing to start (restore the directory from a backup or a peer)"
        case let .gap(path, expected, found):
            "\(path): log entry \(expected) expected, found \(found); refusing to start"
        case let .failed(reason):
            "the write-ahead log failed: \(reason)"
        }
    }
}
