import Glibc

/// A coordinator's data directory: WAL segments, snapshots and the lock that keeps a
/// second process out.
///
/// Layout: `LOCK` (flock'ed while a process uses the directory; holds its pid),
/// `wal-<first index, 16 hex digits>.log` segments and `snap-<index, 16 hex>.snap`
/// snapshots. Files ending in `.tmp` are unfinished snapshots and are removed on open.
public final class DataDirectory: Sendable {
    /// The directory's path.
    public let path: String
    private let lockFD: Int32

    /// Creates the directory when missing and takes its lock.
    ///
    /// Throws `StorageError.locked` naming the holder's pid when another process has it.
    public init(path: String) throws(StorageError) {
        self.path = path
        try Self.makeDirectories(path)
        let lockPath = path + "/LOCK"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: lockPath, operation: "open", errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? PosixFile.readAll(lockPath)).flatMap { String(decoding: $0, as: UTF8.self) } ?? ""
            _ = close(fd)
            throw .locked(directory: path, holder: holder.isEmpty ? "unknown pid" : "pid \(holder)")
        }
        _ = ftruncate(fd, 0)
        let pid = Array("\(getpid())".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        lockFD = fd
        for name in try names() where name.hasSuffix(".tmp") { try PosixFile.remove(file(name)) }
    }

    deinit {
        _ = flock(lockFD, LOCK_UN)
        _ = close(lockFD)
    }

    /// The full path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// WAL segments as (first index, name), oldest first.
    public func segments() throws(StorageError) -> [(first: UInt64, name: String)] {
        try indexed(prefix: "wal-", suffix: ".log")
    }

    /// Snapshots as (index, name), oldest first.
    public func snapshots() throws(StorageError) -> [(index: UInt64, name: String)] {
        try indexed(prefix: "snap-", suffix: ".snap").map { (index: $0.first, name: $0.name) }
    }

    static func segmentName(_ first: UInt64) -> String { "wal-" + hex16(first) + ".log" }
    static func snapshotName(_ index: UInt64) -> String { "snap-" + hex16(index) + ".snap" }

    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    private func indexed(prefix: String, suffix: String) throws(StorageError) -> [(first: UInt64, name: String)] {
        try names().compactMap { name -> (first: UInt64, name: String)? in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            guard digits.count == 16, let value = UInt64(digits, radix: 16) else { return nil }
            return (value, name)
        }.sorted { $0.first < $1.first }
    }

    private func names() throws(StorageError) -> [String] {
        guard let dir = opendir(path) else { throw .io(path: path, operation: "opendir", errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static func makeDirectories(_ path: String) throws(StorageError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw .io(path: current, operation: "mkdir", errno: errno)
            }
        }
    }
}
