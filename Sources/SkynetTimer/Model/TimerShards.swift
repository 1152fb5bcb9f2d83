import Foundation
import Skynet

/// How timers are split and where they live in the coordinator tree.
///
/// A timer's shard is a fixed function of its id, so every instance and every client
/// agrees on it. Shards are owned through the service's `HashRing` by the key `key(shard)`;
/// the owner holds `ownerPath(shard)` (an ephemeral file of its session, holding its RPC
/// address and a token of its process) while it fires the shard's timers, so two
/// instances never fire one shard at once.
package enum TimerShards {
    /// Shards; fixed, since every instance must compute the same shard for an id.
    package static let count = 64
    /// Where timers live.
    package static let root = "/skynet/timers"

    package static func shard(of id: UUID) -> Int {
        Int(HashRing.hash(id.lowercasedText) % UInt64(count))
    }

    /// The ring key that picks the shard's owner.
    package static func key(_ shard: Int) -> String { "timer-shard-\(shard)" }

    package static func directory(_ shard: Int) -> String { "\(root)/shards/\(pad(shard))" }

    package static func path(of id: UUID) -> String { "\(directory(shard(of: id)))/\(id.lowercasedText)" }

    package static func ownerPath(_ shard: Int) -> String { "\(root)/owners/\(pad(shard))" }

    /// The shard an owner file stands for, if `path` is one.
    package static func shard(ownerPath path: String) -> Int? {
        guard path.hasPrefix("\(root)/owners/"), let n = Int(path.dropFirst(root.count + 8)), (0..<count).contains(n) else { return nil }
        return n
    }

    private static func pad(_ shard: Int) -> String { shard < 10 ? "0\(shard)" : "\(shard)" }
}
