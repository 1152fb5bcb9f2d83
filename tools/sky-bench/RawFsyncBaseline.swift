import Foundation

/// The disk's own pace: append a 264-byte record and fdatasync it, one at a time, in a
/// temporary file on the same file system the daemon's data directory uses.
enum RawFsyncBaseline {
    static func measure(seconds: Double) throws -> (perSecond: Double, p50Milliseconds: Double) {
        let path = NSTemporaryDirectory() + "sky-bench-fsync-\(UUID().uuidString.prefix(8))"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw BenchError("cannot create \(path)") }
        defer { close(fd); unlink(path) }
        let record = [UInt8](repeating: 0x5a, count: 264)
        var samples = LatencySamples(capacity: 10_000)
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < .milliseconds(Int(seconds * 1000)) {
            let t = clock.now
            _ = record.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard fdatasync(fd) == 0 else { throw BenchError("fdatasync failed") }
            samples.record(clock.now - t)
        }
        return (Double(samples.count) / (clock.now - start).seconds, samples.percentileMicroseconds(0.5) / 1000)
    }
}
