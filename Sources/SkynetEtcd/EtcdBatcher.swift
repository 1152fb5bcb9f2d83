import SkynetTree

/// Which concurrent calls share one etcd `Txn` (pure: entries in, batches of ids out).
///
/// A front's writes, and apart from them its linearizable reads, are group-committed:
/// while `maxInFlight` etcd calls are out, the calls arriving wait here, and each call that
/// comes back takes the waiting ones along as one `Txn` (a write as a nested `Txn` with its
/// own compares and branches, a read as a range). A lone caller never waits (a free slot
/// sends it at once), and under load one etcd call, one raft entry or read index, and one
/// round of gRPC framing carry many calls instead of one each.
///
/// etcd decides every nested `Txn`'s compares against the state before the whole `Txn`,
/// and refuses one that writes a key twice, so two writes touching related paths (the same
/// path, or one above the other) never share a batch: the later one waits for the next,
/// and so does everything after it that touches its paths, so related writes still reach
/// etcd in the order they arrived. Unrelated writes are concurrent and may be ordered
/// freely; every call in a batch takes effect at the batch's one revision, which lies
/// within each call's own span (it arrived before the batch left and is answered after).
/// Reads carry no paths: any reads may share a batch.
struct EtcdBatcher {
    /// Bounds on batches, kept well inside etcd's defaults (`--max-txn-ops` 128, where a
    /// nested `Txn` may hold only what its parent's operations leave of the 128, and
    /// `--max-request-bytes` 1.5 MiB).
    struct Limits {
        /// etcd calls out at once.
        var maxInFlight = 8
        /// Calls in one batch.
        var maxEntries = 48
        /// Compares and operations one call may hold to be batched at all.
        var maxWeight = 32
        /// Value bytes in one batch (one call with more goes alone).
        var maxBytes = 256 << 10

        /// Whether a call of this size may share a batch; one that may not is sent on its
        /// own, outside the batcher.
        func admit(weight: Int, bytes: Int) -> Bool {
            weight <= maxWeight && bytes <= maxBytes
        }
    }

    /// One call waiting: its id, the paths it writes or compares (none for a read), its size
    /// in etcd operations and in value bytes.
    struct Entry {
        let id: UInt64
        let paths: [TreePath]
        let weight: Int
        let bytes: Int
    }

    let limits: Limits
    private var queue: [Entry] = []
    /// etcd calls out now.
    private(set) var inFlight = 0

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Calls waiting for a slot.
    var waiting: Int { queue.count }

    /// A call arrives: the batch to send now (with it, and whatever waited), or nil when
    /// every slot is busy and it waits.
    mutating func submit(_ entry: Entry) -> [UInt64]? {
        queue.append(entry)
        guard inFlight < limits.maxInFlight else { return nil }
        return take()
    }

    /// A batch's etcd call came back: the next batch to send on the freed slot, or nil.
    mutating func finished() -> [UInt64]? {
        precondition(inFlight > 0, "finished without a batch in flight")
        inFlight -= 1
        return queue.isEmpty ? nil : take()
    }

    /// Takes the next batch from the queue, oldest first, and marks a slot busy.
    private mutating func take() -> [UInt64] {
        var taken = PathSet(), held = PathSet()
        var batch: [UInt64] = []
        var bytes = 0
        var rest: [Entry] = []
        rest.reserveCapacity(queue.count)
        for (index, entry) in queue.enumerated() {
            if batch.count == limits.maxEntries || (!batch.isEmpty && bytes + entry.bytes > limits.maxBytes) {
                rest.append(contentsOf: queue[index...])
                break
            }
            if taken.overlaps(entry.paths) || held.overlaps(entry.paths) {
                // It waits, and so does whatever touches its paths after it.
                held.insert(entry.paths)
                rest.append(entry)
            } else {
                taken.insert(entry.paths)
                batch.append(entry.id)
                bytes += entry.bytes
            }
        }
        queue = rest
        inFlight += 1
        return batch
    }
}

/// Paths, and the directories above them, for asking "does this path touch any of them?"
/// in a few hash lookups.
private struct PathSet {
    private var paths = Set<TreePath>()
    private var above = Set<TreePath>()
    private var hasRoot = false

    mutating func insert(_ more: [TreePath]) {
        for path in more {
            if path.isRoot { hasRoot = true; continue }
            paths.insert(path)
            for directory in path.ancestors { above.insert(directory) }
        }
    }

    /// True when some path of `others` is one of these, lies above one, or below one.
    func overlaps(_ others: [TreePath]) -> Bool {
        if hasRoot { return !others.isEmpty }
        for path in others {
            if path.isRoot { return !paths.isEmpty }
            if paths.contains(path) || above.contains(path) { return true }
            for directory in path.ancestors where paths.contains(directory) { return true }
        }
        return false
    }
}
