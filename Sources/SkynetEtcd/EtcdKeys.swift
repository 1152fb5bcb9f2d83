import Foundation
import SkynetTree

/// How tree paths map onto etcd keys.
///
/// Path `/a/b` is key `<namespace>!a!b`: the separator `!` sorts before every character a
/// name may hold (`A-Za-z0-9._-`), so etcd's byte order over keys is the tree's order
/// (segment by segment, a name before its longer siblings) and a walk pages the same way on
/// both stores. The files under directory `/a` are the key range `[<namespace>!a!,
/// <namespace>!a")` (`"` follows `!`), so one compare over that range asks "is `/a` a
/// directory?" inside a transaction.
public struct EtcdKeys: Sendable {
    /// What every key of the tree starts with (default `sky`).
    public let namespace: String

    /// Keys under `namespace`.
    public init(namespace: String = "sky") {
        self.namespace = namespace
    }

    /// The key of the file at `path`.
    public func key(_ path: TreePath) -> Data {
        Data((namespace + path.string.replacingOccurrences(of: "/", with: "!")).utf8)
    }

    /// The path of `key`, or nil for a key outside the tree.
    public func path(_ key: Data) -> TreePath? {
        let text = String(decoding: key, as: UTF8.self)
        guard text.hasPrefix(namespace + "!") else { return nil }
        return try? TreePath(String(text.dropFirst(namespace.count)).replacingOccurrences(of: "!", with: "/"))
    }

    /// The key range holding every file below `directory` (not the file at it).
    public func below(_ directory: TreePath) -> (start: Data, end: Data) {
        let base = directory.isRoot ? namespace : namespace + directory.string.replacingOccurrences(of: "/", with: "!")
        return (Data((base + "!").utf8), Data((base + "\"").utf8))
    }

    /// The key range holding the file at `path` and every file below it.
    public func atOrBelow(_ path: TreePath) -> (start: Data, end: Data) {
        path.isRoot ? below(path) : (key(path), below(path).end)
    }

    /// The first key after every key at or below `path`: where a listing skips `path`'s subtree.
    public func after(_ path: TreePath) -> Data {
        below(path).end
    }
}
