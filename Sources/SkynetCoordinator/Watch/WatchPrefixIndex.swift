/// Watchers indexed by the literal leading segments of their globs: the watchers that
/// might care about a path are those whose literal prefix is one of the path's prefixes.
///
/// `/skynet/services/echo/**` is filed under `/skynet/services/echo`; `/**` and `/*/x`
/// under the root. A commit looks up each prefix of each changed path (a handful of hash
/// lookups, no allocation), so 100,000 watchers on distinct prefixes cost a commit to an
/// unwatched path next to nothing. Prefixes are keyed by a 64-bit FNV-1a hash of their
/// text: a collision only adds a candidate, which its glob then turns away, so the index
/// needs no copy of the prefixes and costs about 32 bytes per distinct prefix.
struct WatchPrefixIndex: Sendable {
    private enum Members: Sendable {
        case one(WatchID)
        case many([WatchID])
    }

    private var byPrefix: [UInt64: Members] = [:]

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

    /// Files `id` under `prefix` (the glob's literal leading segments).
    mutating func insert(_ id: WatchID, prefix: some Sequence<String>) {
        let key = Self.hash(prefix)
        switch byPrefix[key] {
        case nil: byPrefix[key] = .one(id)
        case .one(let other)?: byPrefix[key] = .many([other, id])
        case .many(var ids)?:
            byPrefix[key] = nil   // keep the array uniquely referenced while it grows
            ids.append(id)
            byPrefix[key] = .many(ids)
        }
    }

    /// Takes `id` off `prefix`.
    mutating func remove(_ id: WatchID, prefix: some Sequence<String>) {
        let key = Self.hash(prefix)
        switch byPrefix[key] {
        case .one(let other)? where other == id:
            byPrefix[key] = nil
        case .many(var ids)?:
            byPrefix[key] = nil
            ids.removeAll { $0 == id }
            if ids.count == 1 { byPrefix[key] = .one(ids[0]) } else if !ids.isEmpty { byPrefix[key] = .many(ids) }
        default:
            break
        }
    }

    /// Adds to `candidates` every watcher filed under a prefix of `path` (the root, each
    /// leading run of segments, the whole path).
    func collect(_ path: TreePath, into candidates: inout Set<WatchID>) {
        func add(_ key: UInt64) {
            switch byPrefix[key] {
            case .one(let id)?: candidates.insert(id)
            case .many(let ids)?: candidates.formUnion(ids)
            case nil: break
            }
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
    var count: Int { byPrefix.count }
}
