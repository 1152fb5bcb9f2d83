import SkynetTree

/// Watchers indexed by the literal leading segments of their globs: the watchers that
/// might care about a path are those whose literal prefix is one of the path's prefixes.
///
/// `/skynet/services/echo/**` is filed under `/skynet/services/echo`; `/**` and `/*/x`
/// under the root. A commit looks up each prefix of each changed path (a handful of hash
/// lookups, no allocation), so 100,000 watchers on distinct prefixes cost a commit to an
/// unwatched path next to nothing. Prefixes are keyed by a 64-bit FNV-1a hash of their
/// text: a collision only adds a candidate, which its glob then turns away, so the index
/// needs no copy of the prefixes. Watchers are filed by slot (32 bits): most prefixes
/// have one watcher and cost a 12-byte bucket; shared prefixes keep a list of their own.
struct WatchPrefixIndex: Sendable {
    private var singles: [UInt64: UInt32] = [:]
    private var shared: [UInt64: [UInt32]] = [:]

    private static let basis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    private static func hash(_ segments: some Sequence<String>) -> UInt64 {
        var hash = basis
        for segment in segments {
            hash = (hash ^ UInt64(UInt8(ascii: "/"))) &* prime
            for byte in segment.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
        }
        return hash
    }

    /// Files the watcher in `slot` under `prefix` (the glob's literal leading segments).
    mutating func insert(_ slot: UInt32, prefix: some Sequence<String>) {
        let key = Self.hash(prefix)
        if let other = singles.removeValue(forKey: key) {
            shared[key] = [other, slot]
        } else if shared[key] != nil {
            shared[key]!.append(slot)
        } else {
            singles[key] = slot
        }
    }

    /// Takes the watcher in `slot` off `prefix`.
    mutating func remove(_ slot: UInt32, prefix: some Sequence<String>) {
        let key = Self.hash(prefix)
        if singles[key] == slot {
            singles[key] = nil
        } else if var slots = shared.removeValue(forKey: key) {
            slots.removeAll { $0 == slot }
            if slots.count == 1 { singles[key] = slots[0] } else if !slots.isEmpty { shared[key] = slots }
        }
    }

    /// Adds to `candidates` the slot of every watcher filed under a prefix of `path` (the
    /// root, each leading run of segments, the whole path).
    func collect(_ path: TreePath, into candidates: inout Set<UInt32>) {
        func add(_ key: UInt64) {
            if let slot = singles[key] { candidates.insert(slot) } else if let slots = shared[key] { candidates.formUnion(slots) }
        }
        var hash = Self.basis
        add(hash)
        var started = false
        for byte in path.string.utf8 {
            if byte == UInt8(ascii: "/"), started { add(hash) }
            started = true
            hash = (hash ^ UInt64(byte)) &* Self.prime
        }
        if !path.isRoot { add(hash) }
    }

    /// Distinct prefixes filed.
    var count: Int { singles.count + shared.count }
}
