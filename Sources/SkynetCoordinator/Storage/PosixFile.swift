// Linux only: fdatasync and the Glibc spellings of the calls below. skynetd targets Linux.
import Glibc

/// A file descriptor with the few calls storage needs, each failure a `StorageError.io`.
///
/// Not thread-safe: one owner at a time (the WAL's flush queue, a snapshot writer).
final class PosixFile {
    let path: String
    private(set) var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Opens for appending, creating the file when missing.
    static func openForAppend(_ path: String) throws(StorageError) -> PosixFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        return PosixFile(path: path, fd: fd)
    }

    /// Opens for writing at chosen offsets (`write(_:at:)`), creating the file when missing.
    static func openForWriting(_ path: String) throws(StorageError) -> PosixFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        return PosixFile(path: path, fd: fd)
    }

    /// Writes every byte at `offset`, retrying short writes and EINTR.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StorageError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            done += n
        }
    }

    /// Writes every byte of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: Int) throws(StorageError) {
        var failure: StorageError?
        bytes.withUnsafeBytes { buffer in
            do throws(StorageError) { try write(buffer, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Cuts (or extends with zeros) the open file to `length` bytes.
    func truncate(to length: Int) throws(StorageError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw .io(path: path, operation: "ftruncate", errno: errno) }
    }

    /// Creates (or empties) a file for writing.
    static func create(_ path: String) throws(StorageError) -> PosixFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, operation: "create", errno: errno) }
        return PosixFile(path: path, fd: fd)
    }

    /// Writes every byte, retrying short writes and EINTR.
    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            offset += n
        }
    }

    /// Writes every byte of `bytes`.
    func write(_ bytes: [UInt8]) throws(StorageError) {
        var failure: StorageError?
        bytes.withUnsafeBytes { buffer in
            do throws(StorageError) { try write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Makes written data durable (fdatasync: data and the size, not the timestamps).
    func sync() throws(StorageError) {
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw .io(path: path, operation: "fdatasync", errno: errno)
        }
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }

    /// The whole content of a file.
    static func readAll(_ path: String) throws(StorageError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { _ = Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var offset = 0
        let failure: Int32? = bytes.withUnsafeMutableBytes { buffer in
            while offset < buffer.count {
                let n = read(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; return errno }
                if n == 0 { break }
                offset += n
            }
            return nil
        }
        if let failure { throw .io(path: path, operation: "read", errno: failure) }
        return Array(bytes[0..<offset])
    }

    /// Cuts a file to `length` bytes and makes that durable.
    static func truncate(_ path: String, to length: Int) throws(StorageError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { _ = Glibc.close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw .io(path: path, operation: "truncate", errno: errno) }
        guard fsync(fd) == 0 else { throw .io(path: path, operation: "fsync", errno: errno) }
    }

    /// Makes a directory's entries (creations, renames, removals) durable.
    static func syncDirectory(_ path: String) throws(StorageError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { _ = Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw .io(path: path, operation: "fsync", errno: errno) }
    }

    /// Renames atomically.
    static func rename(_ from: String, to: String) throws(StorageError) {
        guard Glibc.rename(from, to) == 0 else { throw .io(path: from, operation: "rename to \(to)", errno: errno) }
    }

    /// Removes a file; a missing file is not an error.
    static func remove(_ path: String) throws(StorageError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .io(path: path, operation: "unlink", errno: errno) }
    }

    /// The size of a file in bytes.
    static func size(_ path: String) throws(StorageError) -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        return Int(st.st_size)
    }
}
