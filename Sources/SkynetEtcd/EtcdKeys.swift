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
        Data(encoded(path.string))
    }

    /// `namespace` then `text` with `/` as `!`, byte by byte (on every write's path: no
    /// Foundation string replacing).
    private func encoded(_ text: String, then last: UInt8? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(namespace.utf8.count + text.utf8.count + 1)
        bytes.append(contentsOf: namespace.utf8)
        for byte in text.utf8 { bytes.append(byte == UInt8(ascii: "/") ? UInt8(ascii: "!") : byte) }
        if let last { bytes.append(last) }
        return bytes
    }

    /// The path of `key`, or nil for a key outside the tree.
    public func path(_ key: Data) -> TreePath? {
        let prefix = Array(namespace.utf8)
        guard key.count > prefix.count, key.starts(with: prefix), key[key.startIndex + prefix.count] == UInt8(ascii: "!") else { return nil }
        let bytes = key.dropFirst(prefix.count).map { $0 == UInt8(ascii: "!") ? UInt8(ascii: "/") : $0 }
        return try? TreePath(String(decoding: bytes, as: UTF8.self))
    }

    /// The key range holding every file below `directory` (not the file at it).
    public func below(_ directory: TreePath) -> (start: Data, end: Data) {
        let base = directory.isRoot ? "" : directory.string
        return (Data(encoded(base, then: UInt8(ascii: "!"))), Data(encoded(base, then: UInt8(ascii: "\""))))
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
