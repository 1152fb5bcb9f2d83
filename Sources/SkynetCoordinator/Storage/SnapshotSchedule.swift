/// When a coordinator takes its next snapshot.
///
/// A snapshot writes the whole state, so taking one every fixed number of entries costs
/// each write a share that grows with the tree: at 100,000 files and a snapshot every
/// 10,000 entries, every put paid for re-encoding ten files, more than the put itself.
/// The next snapshot is therefore due once at least `minimumEntries` entries *and* at
/// least twice as many log bytes as the last snapshot's size were logged since it:
/// writing snapshots then costs at most about half as many bytes as the log itself (the
/// write amplification stays under 1.5), and recovery replays at most about two
/// snapshots' worth of log (as etcd's default of 100,000 entries between snapshots does
/// for its typical entries).
struct SnapshotSchedule: Sendable, Equatable {
    /// The fewest entries between two snapshots.
    let minimumEntries: UInt64
    /// The index the last snapshot covers (0: none yet).
    private(set) var lastIndex: UInt64
    /// Log bytes written when the last snapshot was taken (the log's running count).
    private(set) var lastLoggedBytes: Int
    /// The last snapshot's size in bytes.
    private(set) var lastSize: Int
    /// Log bytes between snapshots, per byte of the last snapshot.
    static let logToSnapshot = 2

    /// A snapshot is being written.
    private(set) var inProgress = false

    /// Starts after a snapshot through `index` of `size` bytes (0 and 0 for none); the log's
    /// byte count starts at `loggedBytes`.
    init(minimumEntries: UInt64, lastIndex: UInt64, lastSize: Int, loggedBytes: Int = 0) {
        self.minimumEntries = max(1, minimumEntries)
        self.lastIndex = lastIndex
        self.lastSize = lastSize
        lastLoggedBytes = loggedBytes
    }

    /// Whether a snapshot at `appliedIndex` is due, `loggedBytes` being the log's running
    /// count of bytes written (read only when the entry count already allows one).
    func isDue(appliedIndex: UInt64, loggedBytes: () -> Int) -> Bool {
        guard !inProgress, appliedIndex >= lastIndex + minimumEntries else { return false }
        return loggedBytes() - lastLoggedBytes >= Self.logToSnapshot * lastSize
    }

    /// A snapshot at `index` is being written; the log had written `loggedBytes` then.
    mutating func started(index: UInt64, loggedBytes: Int) -> Started {
        inProgress = true
        return Started(index: index, loggedBytes: loggedBytes)
    }

    /// The snapshot `started` is durable, `size` bytes long.
    mutating func finished(_ started: Started, size: Int) {
        inProgress = false
        lastIndex = started.index
        lastLoggedBytes = started.loggedBytes
        lastSize = size
    }

    /// The snapshot `started` failed; the next due check may try again.
    mutating func failed() {
        inProgress = false
    }

    /// A snapshot being written: where it was cut.
    struct Started: Sendable, Equatable {
        let index: UInt64
        let loggedBytes: Int
    }
}
