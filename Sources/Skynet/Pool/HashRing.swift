/// Consistent hashing of keys over members (the seed idea of upring): each member owns
/// many points on a 64-bit ring, a key belongs to the member of the first point at or
/// after the key's hash. Adding or removing one of N members moves about 1/N of the keys.
///
/// A pure value: the hash is a fixed function (FNV-1a with a 64-bit finalizer), never
/// Swift's per-process seeded `Hasher`, so every process computes the same owners, in
/// any language (docs/WIRE.md, "Pools", specifies it; the Python client implements it).
public struct HashRing: Hashable, Sendable {
    /// Points per member; more points, more even shares.
    public let pointsPerMember: Int
    /// The members, sorted.
    public let members: [String]
    private let points: [UInt64]
    private let owners: [Int32]

    /// Builds the ring for `members` (duplicates are ignored).
    public init(members: some Sequence<String>, pointsPerMember: Int = 160) {
        precondition(pointsPerMember > 0)
        self.pointsPerMember = pointsPerMember
        let members = Array(Set(members)).sorted()
        self.members = members
        var pairs: [(UInt64, Int32)] = []
        pairs.reserveCapacity(members.count * pointsPerMember)
        for (index, member) in members.enumerated() {
            for point in 0..<pointsPerMember { pairs.append((Self.hash("\(member)#\(point)"), Int32(index))) }
        }
        // Ties (vanishingly rare) break by member so every process orders them alike.
        pairs.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        points = pairs.map(\.0)
        owners = pairs.map(\.1)
    }

    /// True when the ring has no members.
    public var isEmpty: Bool { members.isEmpty }

    /// The member that owns `key`, or `nil` when the ring is empty.
    public func owner(of key: String) -> String? {
        owner(ofHash: Self.hash(key))
    }

    /// The member that owns a position on the ring.
    public func owner(ofHash hash: UInt64) -> String? {
        guard !points.isEmpty else { return nil }
        var low = 0, high = points.count
        while low < high {
            let mid = (low + high) / 2
            if points[mid] < hash { low = mid + 1 } else { high = mid }
        }
        return members[Int(owners[low == points.count ? 0 : low])]
    }

    /// The arcs of the ring whose owner differs between `self` and `newer`, each with its
    /// old and new owner: what a service is told when ranges of keys move to or from it.
    public func moves(to newer: HashRing) -> [KeyRangeMove] {
        let boundaries = Array(Set(points + newer.points)).sorted()
        guard let top = boundaries.last else { return [] }
        // Arcs [0, b0], (b0, b1], ..., (last, max]; each has one owner in each ring: the owner
        // of its upper end (the last arc wraps to the first point, as lookups do).
        var arcs: [ClosedRange<UInt64>] = []
        var start: UInt64 = 0
        for boundary in boundaries {
            arcs.append(start...boundary)
            start = boundary &+ 1
        }
        if top != .max { arcs.append(start...UInt64.max) }
        var moves: [KeyRangeMove] = []
        for arc in arcs {
            let before = owner(ofHash: arc.upperBound), after = newer.owner(ofHash: arc.upperBound)
            guard before != after else { continue }
            if let last = moves.last, last.from == before, last.to == after, last.range.upperBound &+ 1 == arc.lowerBound {
                moves[moves.count - 1].range = last.range.lowerBound...arc.upperBound
            } else {
                moves.append(KeyRangeMove(range: arc, from: before, to: after))
            }
        }
        return moves
    }

    /// The ring position of `key`: 64-bit FNV-1a, then the SplitMix64 finalizer to spread
    /// similar keys (`k1`, `k2`, ...) over the whole ring.
    public static func hash(_ key: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}

/// A stretch of ring positions that changed owner (the stretch that wraps past the top of
/// the ring comes as two moves, one ending at `UInt64.max` and one starting at 0).
public struct KeyRangeMove: Hashable, Sendable {
    /// Positions on the ring (see `HashRing.hash`), inclusive.
    public var range: ClosedRange<UInt64>
    /// The owner before (`nil` when the ring was empty).
    public var from: String?
    /// The owner after (`nil` when the ring is now empty).
    public var to: String?
}
